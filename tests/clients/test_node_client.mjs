// The official node client (notifications-node-client 8.4.0), unchanged, against the real
// notify binary. run.sh starts the server and writes the fixture this reads.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { NotifyClient } = require("notifications-node-client");
const FIX = JSON.parse(readFileSync(process.env.NOTIFY_CLIENT_FIXTURE, "utf8"));
const client = (key = "normal") => new NotifyClient(FIX.base_url, FIX.keys[key]);

test("sendSms and getNotificationById", async () => {
  const c = client();
  const sent = await c.sendSms(FIX.templates.sms, "+447700900123", { personalisation: { name: "Node" }, reference: "node-sms" });
  assert.equal(sent.status, 201);
  assert.equal(sent.data.content.body, "Hello Node");
  const got = await c.getNotificationById(sent.data.id);
  assert.equal(got.data.id, sent.data.id);
  assert.equal(got.data.phone_number, "+447700900123");
  assert.equal(got.data.reference, "node-sms");
});

test("sendEmail and getNotifications with filters", async () => {
  const c = client();
  const ref = `node-email-${Date.now()}`;
  const sent = await c.sendEmail(FIX.templates.email, "node@example.com", { personalisation: { name: "N" }, reference: ref });
  assert.equal(sent.data.content.subject, "Hi N");
  const list = await c.getNotifications("email", undefined, ref);
  assert.deepEqual(list.data.notifications.map((n) => n.id), [sent.data.id]);
  assert.match(list.data.links.next, new RegExp(`older_than=${sent.data.id}`));
});

test("sendLetter and sendPrecompiledLetter", async () => {
  const c = client();
  const sent = await c.sendLetter(FIX.templates.letter, {
    personalisation: { address_line_1: "Node Person", address_line_2: "2 Low Road", postcode: "SW1A 1AA", name: "L" },
    reference: "node-letter",
  });
  assert.equal(sent.data.content.subject, "Letter for L");
  const pre = await c.sendPrecompiledLetter("node-pre", readFileSync(FIX.pdf), "economy");
  assert.equal(pre.data.postage, "economy");
});

test("templates, versions, preview", async () => {
  const c = client();
  const t = await c.getTemplateById(FIX.templates.sms);
  assert.equal(t.data.type, "sms");
  const v = await c.getTemplateByIdAndVersion(FIX.templates.sms, 1);
  assert.equal(v.data.version, 1);
  const all = await c.getAllTemplates("sms");
  assert.ok(all.data.templates.every((x) => x.type === "sms"));
  const preview = await c.previewTemplateById(FIX.templates.sms, { name: "P" });
  assert.equal(preview.data.body, "Hello P");
});

test("received texts", async () => {
  const r = await client().getReceivedTexts();
  assert.deepEqual(r.data.received_text_messages, []);
});

test("errors surface with the Notify body", async () => {
  await assert.rejects(client().sendSms(FIX.templates.sms, "999", { personalisation: { name: "x" } }), (err) => {
    assert.equal(err.response.status, 400);
    assert.deepEqual(err.response.data.errors, [{ error: "ValidationError", message: "phone_number Not enough digits" }]);
    return true;
  });
  await assert.rejects(client().getNotificationById("8b3aa916-ec82-434e-b0c5-d5d9b371d6a3"), (err) => {
    assert.equal(err.response.status, 404);
    return true;
  });
});
