"""The official python client (notifications-python-client 13.0.0), unchanged, against the real
notify binary. run.sh starts the server and writes the fixture this reads."""

import base64
import json
import os
import time
import uuid

import pytest
from notifications_python_client.errors import HTTPError
from notifications_python_client.notifications import NotificationsAPIClient

FIX = json.load(open(os.environ["NOTIFY_CLIENT_FIXTURE"]))
BASE = FIX["base_url"]


def client(key="normal"):
    return NotificationsAPIClient(FIX["keys"][key], base_url=BASE)


def error_of(exc_info):
    err = exc_info.value
    return err.status_code, err.message


def test_send_sms_and_read_it_back():
    c = client()
    resp = c.send_sms_notification(
        phone_number="07700 900123",
        template_id=FIX["templates"]["sms"],
        personalisation={"name": "Ann"},
        reference="py-sms-1",
    )
    assert resp["content"]["body"] == "Hello Ann"
    assert resp["reference"] == "py-sms-1"
    assert resp["uri"] == f"{BASE}/v2/notifications/{resp['id']}"
    assert resp["template"]["uri"].endswith(f"services/{FIX['service_id']}/templates/{FIX['templates']['sms']}")
    got = c.get_notification_by_id(resp["id"])
    assert got["id"] == resp["id"]
    assert got["type"] == "sms"
    assert got["phone_number"] == "07700 900123"
    assert got["body"] == "Hello Ann"
    assert got["status"] in ("created", "sending", "delivered")
    assert got["reference"] == "py-sms-1"
    assert got["email_address"] is None
    assert got["template"]["version"] == 1


def test_send_email_and_read_it_back():
    c = client()
    resp = c.send_email_notification(
        email_address="Someone@Example.com",
        template_id=FIX["templates"]["email"],
        personalisation={"name": "Bob"},
        reference="py-email-1",
        one_click_unsubscribe_url="https://example.gov.uk/unsubscribe",
    )
    assert resp["content"]["subject"] == "Hi Bob"
    assert resp["content"]["body"] == "Dear Bob"
    assert resp["content"]["one_click_unsubscribe_url"] == "https://example.gov.uk/unsubscribe"
    assert resp["content"]["from_email"].startswith("client.tests@")
    assert resp["sanitised_content"] == {}
    got = c.get_notification_by_id(resp["id"])
    assert got["email_address"] == "Someone@Example.com"
    assert got["subject"] == "Hi Bob"
    assert got["one_click_unsubscribe_url"] == "https://example.gov.uk/unsubscribe"
    assert got["is_cost_data_ready"] is True
    assert got["cost_in_pounds"] == 0.0


def letter_reference(notification_id):
    """The printer's 16-character reference: the low 80 bits of the id in base 36."""
    value = uuid.UUID(notification_id).int & ((1 << 80) - 1)
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = ""
    for _ in range(16):
        value, d = divmod(value, 36)
        out = digits[d] + out
    return out


def stored_keys(prefix):
    """Keys of the server's letter files under `prefix`, and a reader for one: from its S3 bucket
    (moto) with boto3, or from its blob directory on disk, never through the server."""
    if "s3" in FIX:
        import boto3

        s3 = boto3.client(
            "s3",
            endpoint_url=FIX["s3"]["endpoint"],
            region_name="eu-west-2",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        listed = s3.list_objects_v2(Bucket=FIX["s3"]["bucket"], Prefix=prefix)
        keys = [o["Key"] for o in listed.get("Contents", [])]
        return keys, lambda key: s3.get_object(Bucket=FIX["s3"]["bucket"], Key=key)["Body"].read()
    root = FIX["blobs_dir"]
    keys = []
    for folder, _, files in os.walk(os.path.join(root, prefix)):
        keys += [os.path.relpath(os.path.join(folder, f), root) for f in files]
    return keys, lambda key: open(os.path.join(root, key), "rb").read()


def wait_for(check, seconds=30):
    deadline = time.time() + seconds
    while True:
        result = check()
        if result or time.time() > deadline:
            return result
        time.sleep(0.1)


def test_send_templated_letter():
    c = client()
    resp = c.send_letter_notification(
        template_id=FIX["templates"]["letter"],
        personalisation={
            "address_line_1": "A Person",
            "address_line_2": "1 High Street",
            "postcode": "sw1a 1aa",
            "name": "Cat",
        },
        reference="py-letter-1",
    )
    assert resp["content"]["subject"] == "Letter for Cat"
    got = c.get_notification_by_id(resp["id"])
    assert got["type"] == "letter"
    assert got["status"] == "accepted"
    assert got["line_1"] == "A Person"
    assert got["postcode"] == "sw1a 1aa"
    assert got["postage"] == "second"
    assert "estimated_delivery" in got

    # The PDF is made in the background: not ready, then a real PDF.
    def pdf():
        try:
            return c.get_pdf_for_letter(resp["id"])
        except HTTPError as e:
            assert error_of_value(e) == (400, [{"error": "PDFNotReadyError", "message": "PDF not available yet, try again later"}])
            return None

    body = wait_for(pdf)
    data = body.read() if hasattr(body, "read") else body
    assert data.startswith(b"%PDF")
    # ... kept (in the S3 bucket or on disk) under the print day's folder, named for the printer.
    ref = letter_reference(resp["id"])
    keys, read = stored_keys("letters-pdf/")
    mine = [k for k in keys if f"/NOTIFY.{ref}.D.2.C." in k]
    assert len(mine) == 1, keys
    assert read(mine[0]) == data


def error_of_value(err):
    return err.status_code, err.message


def test_precompiled_letter():
    c = client()
    pdf = open(FIX["pdf"], "rb")
    resp = c.send_precompiled_letter_notification(reference="py-pre-1", pdf_file=pdf, postage="first")
    assert resp["reference"] == "py-pre-1"
    assert resp["postage"] == "first"
    got = c.get_notification_by_id(resp["id"])
    assert got["status"] in ("pending-virus-check", "accepted")
    assert got["subject"] == "Pre-compiled PDF"
    # clamd scans it, validation reads the address from its window, and it waits for the print run.
    got = wait_for(lambda: (lambda n: n if n["status"] != "pending-virus-check" else None)(c.get_notification_by_id(resp["id"])))
    assert got["status"] == "accepted", got
    assert got["line_1"] == "Ms Jane Example", got
    ref = letter_reference(resp["id"])
    keys, _ = stored_keys("letters-pdf/")
    assert [k for k in keys if f"/NOTIFY.{ref}.D.1.C." in k], keys
    scan, _ = stored_keys("letters-scan/")
    assert not [k for k in scan if ref in k], scan


def test_a_virus_never_reaches_the_printer():
    c = client()
    infected = open(FIX["pdf"], "rb").read() + b"\n%X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*\n"
    import io

    resp = c.send_precompiled_letter_notification(reference="py-virus", pdf_file=io.BytesIO(infected))
    got = wait_for(lambda: (lambda n: n if n["status"] != "pending-virus-check" else None)(c.get_notification_by_id(resp["id"])))
    assert got["status"] == "virus-scan-failed", got
    with pytest.raises(HTTPError) as e:
        c.get_pdf_for_letter(resp["id"])
    assert error_of(e) == (400, [{"error": "BadRequestError", "message": "File did not pass the virus scan"}])
    ref = letter_reference(resp["id"])
    failed, _ = stored_keys("letters-scan/FAILURE/")
    assert [k for k in failed if ref in k], failed
    printable, _ = stored_keys("letters-pdf/")
    assert not [k for k in printable if ref in k], printable


def test_list_with_filters_and_paging():
    c = client()
    ref = f"py-list-{uuid.uuid4()}"
    ids = []
    for i in range(3):
        ids.append(
            c.send_sms_notification(
                phone_number="07700900456",
                template_id=FIX["templates"]["sms"],
                personalisation={"name": str(i)},
                reference=ref,
            )["id"]
        )
    page = c.get_all_notifications(reference=ref)
    assert [n["id"] for n in page["notifications"]] == list(reversed(ids))
    assert "older_than=" + ids[0] in page["links"]["next"]
    older = c.get_all_notifications(reference=ref, older_than=ids[2])
    assert [n["id"] for n in older["notifications"]] == [ids[1], ids[0]]
    sms_only = c.get_all_notifications(template_type="sms", status="created")
    assert all(n["type"] == "sms" for n in sms_only["notifications"])
    iterated = [n["id"] for n in c.get_all_notifications_iterator(reference=ref)]
    assert iterated == list(reversed(ids))
    # Each key type sees its own notifications only.
    assert client("team").get_all_notifications(reference=ref)["notifications"] == []


def test_templates_and_preview():
    c = client()
    t = c.get_template(FIX["templates"]["email"])
    assert t["type"] == "email"
    assert t["body"] == "Dear ((name))"
    assert t["subject"] == "Hi ((name))"
    assert t["personalisation"] == {"name": {"required": True}}
    v1 = c.get_template_version(FIX["templates"]["email"], 1)
    assert v1["version"] == 1
    all_templates = c.get_all_templates()
    names = [t["name"] for t in all_templates["templates"]]
    assert names == sorted(names)
    assert {t["type"] for t in c.get_all_templates(template_type="sms")["templates"]} == {"sms"}
    preview = c.post_template_preview(FIX["templates"]["email"], {"name": "Dee"})
    assert preview["body"] == "Dear Dee"
    assert preview["subject"] == "Hi Dee"
    assert "Dear Dee" in preview["html"]
    with pytest.raises(HTTPError) as e:
        c.post_template_preview(FIX["templates"]["email"], {})
    assert error_of(e) == (400, [{"error": "BadRequestError", "message": "Missing personalisation: name"}])


def test_received_texts_empty():
    resp = client().get_received_texts()
    assert resp["received_text_messages"] == []
    assert list(client().get_received_texts_iterator()) == []


def test_error_cases_surface_as_client_exceptions():
    c = client()
    with pytest.raises(HTTPError) as e:
        c.send_sms_notification(phone_number="0770090012a", template_id=FIX["templates"]["sms"], personalisation={"name": "x"})
    assert error_of(e) == (400, [{"error": "ValidationError", "message": "phone_number Must not contain letters or symbols"}])
    with pytest.raises(HTTPError) as e:
        c.send_sms_notification(phone_number="07700900123", template_id=FIX["templates"]["email"], personalisation={"name": "x"})
    assert error_of(e) == (400, [{"error": "BadRequestError", "message": "email template is not suitable for sms notification"}])
    with pytest.raises(HTTPError) as e:
        c.send_email_notification(email_address="not-an-email", template_id=FIX["templates"]["email"])
    assert error_of(e) == (400, [{"error": "ValidationError", "message": "email_address Not a valid email address"}])
    with pytest.raises(HTTPError) as e:
        c.send_sms_notification(phone_number="07700900123", template_id=FIX["templates"]["sms"])
    assert error_of(e) == (400, [{"error": "BadRequestError", "message": "Missing personalisation: name"}])
    with pytest.raises(HTTPError) as e:
        c.get_notification_by_id(str(uuid.uuid4()))
    assert error_of(e) == (404, [{"error": "NoResultFound", "message": "No result found"}])
    with pytest.raises(HTTPError) as e:
        c.get_notification_by_id("not-a-uuid")
    assert error_of(e) == (400, [{"error": "ValidationError", "message": "notification_id is not a valid UUID"}])
    with pytest.raises(HTTPError) as e:
        client("team").send_sms_notification(phone_number="07700900999", template_id=FIX["templates"]["sms"], personalisation={"name": "x"})
    assert error_of(e) == (400, [{"error": "BadRequestError", "message": "Can’t send to this recipient using a team-only API key"}])
    with pytest.raises(HTTPError) as e:
        client("team").send_letter_notification(template_id=FIX["templates"]["letter"], personalisation={"name": "x"})
    assert e.value.status_code == 403


def test_authentication_errors():
    bad = NotificationsAPIClient("x-" + FIX["service_id"] + "-" + str(uuid.uuid4()), base_url=BASE)
    with pytest.raises(HTTPError) as e:
        bad.get_all_templates()
    assert error_of(e) == (403, [{"error": "AuthError", "message": "Invalid token: API key not found"}])
    unknown = NotificationsAPIClient("x-" + str(uuid.uuid4()) + "-" + str(uuid.uuid4()), base_url=BASE)
    with pytest.raises(HTTPError) as e:
        unknown.get_all_templates()
    assert error_of(e) == (403, [{"error": "AuthError", "message": "Invalid token: service not found"}])


def test_test_key_sends_are_listed_for_test_keys_only():
    c = client("test")
    resp = c.send_email_notification(email_address="perm-fail@simulator.notify", template_id=FIX["templates"]["email"], personalisation={"name": "T"})
    listed = [n["id"] for n in c.get_all_notifications()["notifications"]]
    assert resp["id"] in listed
    assert resp["id"] not in [n["id"] for n in client().get_all_notifications()["notifications"]]


def test_template_versions_is_an_admin_route():
    # Upstream answers a service key on this admin-only route with 401 (spec 5.12).
    with pytest.raises(HTTPError) as e:
        client().get_all_template_versions(FIX["templates"]["sms"])
    assert e.value.status_code == 401
    assert e.value.message == {"token": ["Unauthorized: not allowed to perform this action"]}
