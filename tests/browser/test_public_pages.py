"""Pages anyone can reach: they render in the layout, pass axe, and work by keyboard."""

from conftest import look


def test_the_status_page_is_accessible(server, page):
    page.goto(server.base + "/")
    assert page.title().endswith("– Notify")
    look(page, "status")


def test_the_skip_link_is_the_first_tab_stop_and_reaches_the_content(server, page):
    page.goto(server.base + "/")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused.strip() == "Skip to main content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main-content"


def test_an_expired_document_link_explains_itself(server, page):
    page.goto(server.base + "/d/00000000-0000-0000-0000-000000000001/00000000-0000-0000-0000-000000000002?key=x")
    assert "no longer available" in page.inner_text("main")
    look(page, "document-unavailable")
