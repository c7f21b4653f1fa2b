"""The widget renderer (``/ui/widgets.js``) in chromium, under the UI's CSP.

Widgets are built in Python with ``chatkit.widgets`` and dumped as a server sends them;
a page of the server's origin imports the renderer and renders them with a ctx whose
``dispatch`` records its calls (and can hold them pending), whose ``markdown`` is a
stand-in and whose ``isImageAllowed`` allows same-origin paths only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, get_args

import pytest
from chatkit.icons import IconName
from chatkit.server import diff_widget
from chatkit.types import (
    AssistantMessageItem,
    ThreadItemDoneEvent,
    ThreadItemUpdatedEvent,
    WidgetComponentUpdated,
    WidgetItem,
    WidgetStreamingTextValueDelta,
)
from chatkit.widgets import (
    Badge,
    BasicRoot,
    Box,
    Button,
    Card,
    Chart,
    Icon,
    Image,
    Input,
    ListView,
    ListViewItem,
    Markdown,
    Row,
    StrictWidgetComponent,
    StrictWidgetRoot,
    Text,
    Title,
)

from tests.browser.conftest import PageLog, axe_violations, start_ui_server
from tests.browser.widget_workflows import ECHO, STREAMED, basic, card, echo, list_view
from tests.chatkit_helpers import chat
from tests.conftest import Server, database_url_for, stop_server

HARNESS = "/widgets-harness"
#: the harness: an empty page of the server's origin with the UI's policy
PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>widgets</title><link rel="stylesheet" href="/ui/widgets.css"></head>
<body><main id="stage"></main></body></html>"""

#: run once per page: the module, a ctx recording dispatches, the helpers the tests use
SETUP = """async () => {
  const m = await import('/ui/widgets.js');
  const calls = [];
  const held = [];
  const state = { hold: false };
  const ctx = {
    itemId: 'item_1',
    dispatch(action, element) {
      const widget = element.closest('[data-widget]')?.dataset.widget;
      calls.push({ action, widget });
      if (!state.hold) return Promise.resolve();
      return new Promise((resolve) => held.push(resolve));
    },
    markdown(text) {
      const node = document.createElement('div');
      node.className = 'md-stand-in';
      node.textContent = 'MD:' + text;
      return node;
    },
    isImageAllowed: (src) => src.startsWith('/') && !src.startsWith('//'),
  };
  window.tk = {
    m, ctx, calls, held, state,
    show(widget, where) {
      const root = m.renderWidget(widget, ctx);
      (where || document.getElementById('stage')).append(root);
      return root;
    },
  };
}"""


@pytest.fixture(scope="module")
def widget_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A UI server on SQLite (the renderer does not depend on the backend)."""
    folder = tmp_path_factory.mktemp("widgets")
    srv = start_ui_server("sqlite", database_url_for("sqlite", folder), folder)
    yield srv
    stop_server(srv)


@pytest.fixture
def tk(page: Any, widget_server: Server) -> Any:
    """The harness page, set up (``window.tk``)."""
    policy = ""

    def fulfil(route: Any) -> None:
        route.fulfill(
            status=200,
            content_type="text/html; charset=utf-8",
            headers={"content-security-policy": policy},
            body=PAGE,
        )

    response = page.request.get(widget_server.url + "/ui/widgets.js")
    assert response.status == 200
    policy = response.headers["content-security-policy"]
    page.route(widget_server.url + HARNESS, fulfil)
    page.goto(widget_server.url + HARNESS)
    page.evaluate(SETUP)
    return page


def dump(widget: Any) -> dict[str, Any]:
    """A widget's JSON as the server sends it."""
    return widget.model_dump(mode="json", exclude_none=True)


def show(page: Any, widget: Any) -> None:
    page.evaluate(
        "(w) => { tk.show(w); }", dump(widget) if not isinstance(widget, dict) else widget
    )


def calls(page: Any) -> list[dict[str, Any]]:
    return page.evaluate("() => tk.calls")


def payloads(page: Any) -> list[Any]:
    return [c["action"]["payload"] for c in calls(page)]


def component_types() -> set[str]:
    """Every type of chatkit.widgets: the roots and the components inside them."""
    union = get_args(StrictWidgetComponent)[0], get_args(StrictWidgetRoot)[0]
    return {cls.model_fields["type"].default for part in union for cls in get_args(part)}


def style(page: Any, selector: str, prop: str) -> str:
    return page.locator(selector).first.evaluate(
        "(e, p) => getComputedStyle(e).getPropertyValue(p)", prop
    )


# --- every component ----------------------------------------------------------------------


def test_every_component_of_chatkit_widgets_is_rendered(tk: Any) -> None:
    for widget in (card(), list_view(), basic()):
        show(tk, widget)
    rendered = set(
        tk.evaluate(
            "() => [...document.querySelectorAll('[data-widget]')].map(e => e.dataset.widget)"
        )
    )
    expected = component_types()
    assert len(expected) == 27  # Card, ListView, Basic and the 24 components inside them
    assert expected <= rendered, expected - rendered
    assert not tk.locator(".tkw-unknown").count()


def test_structure_roles_and_text(tk: Any) -> None:
    show(tk, card())
    show(tk, list_view())
    show(tk, basic())
    stage = tk.locator("#stage")
    assert stage.get_by_role("heading", name="Widget gallery").is_visible()
    assert tk.locator('[data-tkw-id="streamed"]').text_content() == "".join(STREAMED)
    assert tk.locator('[data-widget="Caption"]').first.text_content() == "A caption"
    assert (
        tk.locator('[data-widget="Markdown"] .md-stand-in').text_content()
        == "MD:Some **markdown** text"
    )
    assert tk.locator('[data-widget="Badge"]').text_content() == "New"
    assert tk.locator(".tkw-status").first.text_content() == "Every component"
    assert tk.locator('[data-widget="Divider"]').evaluate("e => e.tagName") == "HR"
    assert tk.locator('[data-widget="Icon"] path').count() >= 1
    # fields are named by their Label, or by their placeholder / name
    assert stage.get_by_role("textbox", name="Your name").get_attribute("placeholder") == "Ada"
    assert stage.get_by_role("textbox", name="Notes").evaluate("e => e.tagName") == "TEXTAREA"
    assert stage.get_by_role("combobox", name="Size").is_visible()
    assert stage.get_by_role("checkbox", name="I agree").is_visible()
    radios = stage.get_by_role("radiogroup", name="Color")
    assert radios.get_by_role("radio").count() == 2
    assert radios.get_by_role("radio", name="Red").is_checked()
    assert tk.locator('[data-widget="DatePicker"] input[type="date"]').count() == 1
    assert stage.get_by_role("button", name="Ping").is_visible()
    assert stage.get_by_role("button", name="Send").get_attribute("type") == "submit"
    assert stage.get_by_role("button", name="Cancel").get_attribute("type") == "button"
    assert tk.locator('[data-widget="Transition"] [data-tkw-id="transition"]').count() == 1
    chart = stage.get_by_role("figure", name="Chart: A, B")
    assert chart.locator("rect.tkw-bar").count() == 2
    assert chart.locator("path.tkw-line").count() == 1
    assert chart.locator("table th").all_text_contents()[:3] == ["m", "A", "B"]
    lists = stage.get_by_role("list").filter(has=tk.locator('[data-widget="ListViewItem"]'))
    assert lists.get_by_role("listitem").count() == 3
    assert stage.get_by_role("button", name="Item 2").is_visible()
    assert tk.locator('[data-widget="Basic"] form[data-widget="Form"]').count() == 1


def test_text_from_the_server_is_never_markup(tk: Any) -> None:
    show(
        tk,
        Card(
            children=[Text(value='<img src=x onerror="window.hacked=1">'), Title(value="<b>t</b>")]
        ),
    )
    assert tk.locator("#stage img").count() == 0
    assert (
        tk.locator('[data-widget="Text"]').text_content() == '<img src=x onerror="window.hacked=1">'
    )
    assert tk.locator('[data-widget="Title"]').text_content() == "<b>t</b>"
    assert tk.evaluate("() => window.hacked") is None


def test_every_icon_name_is_drawn(tk: Any) -> None:
    names = [n for n in get_args(get_args(IconName)[0])]
    assert len(names) > 60
    show(tk, Row(children=[Icon(name=n) for n in [*names, "lucide:anchor"]]))
    drawn = tk.evaluate(
        """() => [...document.querySelectorAll('svg.tkw-icon')].map(s =>
             [s.dataset.icon, [...s.querySelectorAll('path')]
               .map(p => p.getAttribute('class') + p.getAttribute('d')).join('|')])"""
    )
    shapes = dict(drawn)
    assert list(shapes) == [*names, "lucide:anchor"]
    dot = shapes["dot"]
    assert [n for n in names if n != "dot" and shapes[n] == dot] == []
    assert shapes["lucide:anchor"] == dot  # not drawn here: the neutral dot
    assert len(set(shapes[n] for n in names)) == len(names)


# --- props -> styles ----------------------------------------------------------------------


def test_props_become_styles(tk: Any) -> None:
    show(
        tk,
        Card(
            size="sm",
            children=[
                Box(
                    id="box",
                    padding=4,
                    radius="lg",
                    background="red-500",
                    border={"size": 2, "style": "dashed", "color": "#00ff00"},
                    gap=3,
                    direction="row",
                    justify="between",
                    children=[
                        Text(
                            id="t",
                            value="bold",
                            weight="bold",
                            color="danger",
                            italic=True,
                            size="lg",
                        ),
                        Text(id="trunc", value="x" * 200, truncate=True, width=80),
                    ],
                ),
                Title(id="title", value="T", size="3xl", textAlign="center"),
                Button(
                    id="pill", label="Pill", pill=True, size="lg", color="danger", variant="soft"
                ),
                Button(id="block", label="Block", block=True),
                Badge(id="badge", label="B", color="warning", variant="solid", pill=True),
                Image(
                    id="img",
                    src="/ui/page/favicon.svg",
                    alt="logo",
                    width=48,
                    height=32,
                    fit="contain",
                    radius="full",
                ),
            ],
        ),
    )
    box = '[data-tkw-id="box"]'
    assert style(tk, box, "padding-top") == "16px"
    assert style(tk, box, "gap") == "12px"
    assert style(tk, box, "border-top-left-radius") == "12px"
    assert style(tk, box, "border-top-style") == "dashed"
    assert style(tk, box, "border-top-width") == "2px"
    assert style(tk, box, "border-top-color") == "rgb(0, 255, 0)"
    assert style(tk, box, "flex-direction") == "row"
    assert style(tk, box, "justify-content") == "space-between"
    assert style(tk, box, "background-color").startswith("oklch(")
    text = '[data-tkw-id="t"]'
    assert style(tk, text, "font-weight") == "700"
    assert style(tk, text, "font-style") == "italic"
    assert style(tk, text, "font-size") == "18px"
    assert style(tk, text, "color") == "rgb(179, 38, 30)"  # the danger text token, light
    assert style(tk, '[data-tkw-id="trunc"]', "text-overflow") == "ellipsis"
    assert style(tk, '[data-tkw-id="trunc"]', "width") == "80px"
    assert style(tk, '[data-tkw-id="title"]', "font-size") == "32px"
    assert style(tk, '[data-tkw-id="title"]', "text-align") == "center"
    assert style(tk, '[data-tkw-id="pill"]', "border-top-left-radius") == "9999px"
    assert style(tk, '[data-tkw-id="pill"]', "height") == "36px"
    card_width = tk.locator('[data-widget="Card"] .tkw-card-body').evaluate("e => e.clientWidth")
    block_width = tk.locator('[data-tkw-id="block"]').evaluate("e => e.offsetWidth")
    assert block_width == card_width - 32  # the body's padding
    assert style(tk, '[data-tkw-id="badge"]', "border-top-left-radius") == "9999px"
    assert style(tk, '[data-tkw-id="img"]', "width") == "48px"
    assert style(tk, '[data-tkw-id="img"]', "object-fit") == "contain"
    assert style(tk, '[data-widget="Card"]', "max-width") == "340px"


def test_css_strings_that_would_fetch_are_refused(tk: Any) -> None:
    show(tk, Card(children=[Box(id="b", background="url(/ui/page/favicon.svg)", children=[])]))
    assert style(tk, '[data-tkw-id="b"]', "background-image") == "none"


def test_light_and_dark_themes(tk: Any) -> None:
    widget = dump(
        Card(
            children=[
                Text(id="t", value="x", color={"light": "#ff0000", "dark": "#00ff00"}),
                Text(id="p", value="y"),
            ]
        )
    )
    found = tk.evaluate(
        """(w) => {
          const color = (root, id) =>
            getComputedStyle(root.querySelector(`[data-tkw-id="${id}"]`)).color;
          const host = (scheme) => {
            const el = document.createElement('div');
            if (scheme) el.dataset.colorScheme = scheme;
            document.body.append(el);
            const shadow = el.attachShadow({ mode: 'open' });
            const link = document.createElement('link');
            link.rel = 'stylesheet';
            link.href = '/ui/widgets.css';
            shadow.append(link);
            return new Promise((r) => link.addEventListener('load', () => r(shadow)));
          };
          return Promise.all([host(null), host('dark')]).then(([light, dark]) => {
            tk.show(w, light);
            tk.show(w, dark);
            const forced = tk.show({ ...w, theme: 'dark' }, light);
            return {
              light: [color(light, 't'), color(light, 'p')],
              dark: [color(dark, 't'), color(dark, 'p')],
              forced: color(forced, 'p'),
              background: getComputedStyle(dark.querySelector('.tkw-card')).backgroundColor,
            };
          });
        }""",
        widget,
    )
    assert found["light"] == ["rgb(255, 0, 0)", "rgb(31, 35, 40)"]
    assert found["dark"] == ["rgb(0, 255, 0)", "rgb(232, 232, 234)"]
    assert found["forced"] == "rgb(232, 232, 234)"  # the card's theme wins over its host's
    assert found["background"] == "rgb(30, 32, 36)"


# --- actions, forms, loading --------------------------------------------------------------


def test_button_and_list_item_actions(tk: Any) -> None:
    show(tk, card())
    show(tk, list_view())
    stage = tk.locator("#stage")
    stage.get_by_role("button", name="Ping").click()
    item = stage.get_by_role("button", name="Item 2")
    item.click()
    item.focus()
    tk.keyboard.press("Enter")
    got = calls(tk)
    assert [c["action"]["type"] for c in got] == [ECHO] * 3
    assert [c["widget"] for c in got] == ["Button", "ListViewItem", "ListViewItem"]
    # the button is inside the card's form: the form's values come with its payload
    assert got[0]["action"]["payload"] == {
        "via": "button",
        "name": "",
        "notes": "",
        "size": None,
        "day": None,
        "agree": False,
        "color": "red",
    }
    assert got[0]["action"]["handler"] == "server"
    assert got[0]["action"]["loadingBehavior"] == "auto"
    assert got[1]["action"]["payload"] == {"via": "item", "n": 2}
    assert got[2]["action"]["payload"] == {"via": "item", "n": 2}


def test_form_values_are_merged_into_the_confirm_payload(tk: Any) -> None:
    show(tk, card())
    stage = tk.locator("#stage")
    stage.get_by_role("button", name="Send").click()
    assert calls(tk) == []  # the name is required: the browser refused to submit
    stage.get_by_role("textbox", name="Your name").fill("Ada Lovelace")
    stage.get_by_role("textbox", name="Notes").fill("two\nlines")
    stage.get_by_role("combobox", name="Size").select_option("l")
    tk.locator('[data-widget="DatePicker"] input').fill("2025-03-04")
    stage.get_by_role("checkbox", name="I agree").check()
    stage.get_by_role("radio", name="Blue").check()
    changes = payloads(tk)
    assert [p["via"] for p in changes] == ["select", "date", "checkbox", "radio"]
    assert changes[0]["size"] == "l"
    assert changes[1]["day"] == "2025-03-04"
    assert changes[2]["agree"] is True
    assert changes[3]["color"] == "blue"
    stage.get_by_role("button", name="Send").click()
    stage.get_by_role("button", name="Cancel").click()
    values = {
        "name": "Ada Lovelace",
        "notes": "two\nlines",
        "size": "l",
        "day": "2025-03-04",
        "agree": True,
        "color": "blue",
    }
    assert payloads(tk)[4:] == [{"via": "confirm", **values}, {"via": "cancel", **values}]


def test_enter_submits_a_form_with_its_values(tk: Any) -> None:
    show(tk, basic())
    field = tk.locator("#stage").get_by_role("textbox", name="Search")
    field.fill("threads")
    field.press("Enter")
    tk.locator("#stage").get_by_role("button", name="Go").click()
    assert payloads(tk) == [{"via": "form", "query": "threads"}] * 2


def test_change_actions_outside_a_form_carry_their_own_value(tk: Any) -> None:
    from chatkit.widgets import Checkbox, DatePicker, RadioGroup, Select

    show(
        tk,
        Card(
            children=[
                Select(
                    name="s",
                    options=[{"value": "a", "label": "A"}],
                    onChangeAction=echo(),
                    clearable=True,
                ),
                Checkbox(name="c", label="C", onChangeAction=echo({"x": 1})),
                RadioGroup(
                    name="r",
                    options=[
                        {"label": "One", "value": "1"},
                        {"label": "Two", "value": "2", "disabled": True},
                    ],
                    onChangeAction=echo(),
                ),
                DatePicker(
                    name="d",
                    onChangeAction=echo(),
                    min="2025-01-01T00:00:00",
                    defaultValue="2025-01-02T00:00:00",
                ),
            ]
        ),
    )
    stage = tk.locator("#stage")
    stage.get_by_role("combobox", name="S").select_option("a")
    stage.get_by_role("button", name="Clear").first.click()
    stage.get_by_role("checkbox", name="C").check()
    stage.get_by_role("radio", name="One").check()
    assert stage.get_by_role("radio", name="Two").is_disabled()
    date = tk.locator('input[type="date"]')
    assert date.input_value() == "2025-01-02"
    assert date.get_attribute("min") == "2025-01-01"
    date.fill("2025-02-03")
    assert payloads(tk) == [
        {"s": "a"},
        {"s": None},
        {"x": 1, "c": True},
        {"r": "1"},
        {"d": "2025-02-03"},
    ]


def test_loading_state_while_dispatch_is_pending(tk: Any) -> None:
    show(
        tk,
        Card(
            children=[
                Button(id="self", label="Self", onClickAction=echo()),
                Button(
                    id="container",
                    label="Container",
                    onClickAction=echo(loadingBehavior="container"),
                ),
                Button(id="none", label="None", onClickAction=echo(loadingBehavior="none")),
            ]
        ),
    )
    tk.evaluate("() => { tk.state.hold = true; }")
    root = tk.locator(".tkw-root")
    button = tk.locator('[data-tkw-id="self"]')
    button.click()
    assert button.get_attribute("aria-busy") == "true"
    assert root.get_attribute("aria-busy") is None
    button.click(force=True)  # busy: fires nothing more
    assert len(calls(tk)) == 1
    tk.evaluate("() => tk.held.shift()()")
    tk.locator('[data-tkw-id="self"]:not([aria-busy])').wait_for()
    tk.locator('[data-tkw-id="container"]').click()
    assert root.get_attribute("aria-busy") == "true"
    assert tk.locator('[data-tkw-id="container"]').get_attribute("aria-busy") is None
    tk.evaluate("() => tk.held.shift()()")
    tk.locator(".tkw-root:not([aria-busy])").wait_for()
    tk.locator('[data-tkw-id="none"]').click()
    assert tk.locator("[aria-busy]").count() == 0
    assert len(calls(tk)) == 3
    tk.evaluate("() => tk.held.shift()()")


def test_a_failed_dispatch_ends_the_loading_state(tk: Any) -> None:
    show(tk, Card(children=[Button(id="b", label="B", onClickAction=echo())]))
    tk.evaluate("() => { tk.ctx.dispatch = () => Promise.reject(new Error('offline')); }")
    tk.locator('[data-tkw-id="b"]').click()
    tk.locator('[data-tkw-id="b"]:not([aria-busy])').wait_for()


def test_collapsed_card_folds_after_its_confirm_action(tk: Any) -> None:
    show(
        tk,
        Card(
            collapsed=True, confirm={"label": "OK", "action": echo()}, children=[Text(value="body")]
        ),
    )
    stage = tk.locator("#stage")
    stage.get_by_role("button", name="OK").click()
    toggle = stage.get_by_role("button", name="Show details")
    toggle.wait_for()
    assert not tk.locator('[data-widget="Text"]').is_visible()
    toggle.click()
    assert tk.locator('[data-widget="Text"]').is_visible()
    assert stage.get_by_role("button", name="Hide details").get_attribute("aria-expanded") == "true"


def test_list_view_limit_shows_more_on_demand(tk: Any) -> None:
    show(
        tk,
        ListView(
            limit=3, children=[ListViewItem(children=[Text(value=f"Row {n}")]) for n in range(7)]
        ),
    )
    items = tk.locator('[data-widget="ListViewItem"]')
    assert [items.nth(n).is_visible() for n in range(7)] == [True] * 3 + [False] * 4
    tk.locator("#stage").get_by_role("button", name="Show 4 more").click()
    assert all(items.nth(n).is_visible() for n in range(7))
    assert not tk.locator(".tkw-more").is_visible()


# --- images and markdown ------------------------------------------------------------------


def test_images_only_from_allowed_sources(tk: Any, page_log: PageLog) -> None:
    show(
        tk,
        Card(
            status={"text": "s", "favicon": "https://cdn.example.com/favicon.ico"},
            children=[
                Image(src="/ui/page/favicon.svg", alt="local"),
                Image(src="https://images.example.com/cat.png", alt="A remote cat"),
            ],
        ),
    )
    stage = tk.locator("#stage")
    local = stage.get_by_role("img", name="local")
    assert local.evaluate("e => e.tagName") == "IMG"
    local.evaluate("e => e.decode()")
    assert local.evaluate("e => e.naturalWidth") > 0
    remote = stage.get_by_role("img", name="A remote cat")
    assert remote.evaluate("e => e.tagName") == "DIV"
    assert remote.text_content() == "A remote cat"
    assert tk.locator(".tkw-favicon").count() == 0
    assert not [u for u in page_log.requests if "example.com" in u]


def test_markdown_goes_through_ctx_markdown(tk: Any) -> None:
    show(tk, Card(children=[Markdown(id="m", value="# Hi <script>x</script>")]))
    assert (
        tk.locator('[data-tkw-id="m"] .md-stand-in').text_content() == "MD:# Hi <script>x</script>"
    )
    assert tk.locator("#stage script").count() == 0


# --- updates ------------------------------------------------------------------------------


def apply(page: Any, widget: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """applyWidgetUpdate in the page, checking it left its input as it was."""
    result = page.evaluate(
        """([w, u]) => {
          const before = JSON.stringify(w);
          const out = tk.m.applyWidgetUpdate(w, u);
          if (JSON.stringify(w) !== before) throw new Error('applyWidgetUpdate changed its input');
          return out;
        }""",
        [widget, update],
    )
    return result


def test_apply_widget_update_matches_openai_chatkit(tk: Any) -> None:
    pairs = [
        (card("Stream", streaming=True), card("Streaming more", streaming=True)),  # value delta
        (card("Stream"), card("Stream, done")),  # a delta when not streaming (done)
        (card("x"), list_view()),  # another root
        (card("x", streaming=True), card("x")),  # streaming ends: root replaced
    ]
    kinds = []
    for before, after in pairs:
        widget = dump(before)
        for update in diff_widget(before, after):
            kinds.append(update.type)
            widget = apply(tk, widget, update.model_dump(mode="json", exclude_none=True))
        assert widget == dump(after)
    assert kinds == [
        "widget.streaming_text.value_delta",
        "widget.streaming_text.value_delta",
        "widget.root.updated",
        "widget.root.updated",
    ]
    # a delta that is not done keeps the component streaming; done ends it
    start = dump(card("a", streaming=True))
    step = WidgetStreamingTextValueDelta(component_id="streamed", delta="b", done=True)
    assert apply(tk, start, step.model_dump(mode="json")) == dump(card("ab", streaming=False))
    # a component replaced by id, deep in the tree (inside a Transition's single child too)
    replaced = card()
    replaced.children[3] = Markdown(id="md", value="Replaced")
    update = WidgetComponentUpdated(
        component_id="md", component=Markdown(id="md", value="Replaced")
    )
    assert apply(tk, dump(card()), update.model_dump(mode="json", exclude_none=True)) == dump(
        replaced
    )
    inner = card()
    inner.children[10] = inner.children[10].model_copy(
        update={"children": Text(id="transition", value="new")}
    )
    update = WidgetComponentUpdated(
        component_id="transition", component=Text(id="transition", value="new")
    )
    assert apply(tk, dump(card()), update.model_dump(mode="json", exclude_none=True)) == dump(inner)
    # unknown ids change nothing
    update = WidgetComponentUpdated(component_id="nope", component=Text(value="x"))
    assert apply(tk, dump(card()), update.model_dump(mode="json", exclude_none=True)) == dump(
        card()
    )


def test_rerender_patches_in_place_and_keeps_focus_and_input(tk: Any) -> None:
    widget = dump(card("Stream", streaming=True))
    tk.evaluate("(w) => { window.first = tk.show(w); }", widget)
    field = tk.locator("#stage").get_by_role("textbox", name="Your name")
    field.fill("Ada")
    field.evaluate("e => { window.field = e; e.setSelectionRange(1, 2); }")
    update = WidgetStreamingTextValueDelta(component_id="streamed", delta="ing on", done=False)
    same = tk.evaluate(
        """([w, u]) => {
          const next = tk.m.applyWidgetUpdate(w, u);
          return tk.m.rerenderWidget(window.first, next, tk.ctx) === window.first;
        }""",
        [widget, update.model_dump(mode="json")],
    )
    assert same
    assert tk.locator('[data-tkw-id="streamed"]').text_content() == "Streaming on"
    assert tk.evaluate("() => document.activeElement === window.field")
    assert field.input_value() == "Ada"
    # a root replaced with the same fields: what the user typed stays; focus follows
    changed = dump(card("Other text").model_copy(update={"status": {"text": "Changed"}}))
    tk.evaluate("(w) => tk.m.rerenderWidget(window.first, w, tk.ctx)", changed)
    assert tk.locator(".tkw-status").text_content() == "Changed"
    assert tk.locator("#stage").get_by_role("textbox", name="Your name").input_value() == "Ada"
    assert tk.evaluate("() => document.activeElement.dataset.tkwField") == "name"
    assert tk.locator(".tkw-root").count() == 1


def test_streamed_workflow_answer_renders_to_its_final_widget(
    tk: Any, widget_server: Server
) -> None:
    """The ``widgets`` workflow through a real server: its events validate as
    openai-chatkit models, and replayed into the renderer they end on the stored widget."""
    session = chat(widget_server, "widgets-e2e", "alice", workflow="widgets")
    thread_id, events = session.create_thread("show me")
    widgets = [
        e.item
        for e in events
        if isinstance(e, ThreadItemDoneEvent) and isinstance(e.item, WidgetItem)
    ]
    assert [w.widget.type for w in widgets] == ["Card", "ListView", "Basic"]
    assert dump(widgets[0].widget) == dump(card())
    updates = [
        e for e in events if isinstance(e, ThreadItemUpdatedEvent) and e.item_id == widgets[0].id
    ]
    deltas = [u.update for u in updates if u.update.type == "widget.streaming_text.value_delta"]
    assert [d.delta for d in deltas] == STREAMED
    added = next(
        e.item
        for e in events
        if getattr(e, "type", "") == "thread.item.added" and e.item.id == widgets[0].id
    )
    final = tk.evaluate(
        """([w, updates]) => {
          const root = tk.show(w);
          for (const u of updates) {
            w = tk.m.applyWidgetUpdate(w, u);
            tk.m.rerenderWidget(root, w, tk.ctx);
          }
          return [w, root.querySelector('[data-tkw-id="streamed"]').textContent];
        }""",
        [
            dump(added.widget),
            [u.update.model_dump(mode="json", exclude_none=True) for u in updates],
        ],
    )
    assert final == [dump(card()), "".join(STREAMED)]
    # the echo action, streamed and sync
    answer = session.stream(
        "threads.custom_action",
        {
            "thread_id": thread_id,
            "item_id": widgets[0].id,
            "action": {"type": ECHO, "payload": {"a": 1}},
        },
    )
    texts = [
        e.item.content[0].text
        for e in answer
        if isinstance(e, ThreadItemDoneEvent) and isinstance(e.item, AssistantMessageItem)
    ]
    assert texts == [f"{ECHO} {json.dumps({'a': 1})}"]
    sync = session.call(
        "threads.sync_custom_action",
        {
            "thread_id": thread_id,
            "item_id": widgets[1].id,
            "action": {"type": ECHO, "payload": {"b": 2}},
        },
    )
    assert (
        WidgetItem.model_validate(sync["updated_item"]).widget.children[0].value
        == f"{ECHO} {json.dumps({'b': 2})}"
    )


# --- accessibility ------------------------------------------------------------------------


def test_every_widget_is_accessible(tk: Any) -> None:
    for widget in (card(), list_view(), basic()):
        show(tk, widget)
    show(
        tk,
        Card(
            theme="dark",
            children=[Text(value="dark"), Button(iconStart="search", onClickAction=echo())],
        ),
    )
    assert tk.locator("#stage").get_by_role("button", name="Search").is_visible()
    tk.locator('[data-widget="Chart"]').first.focus()
    tk.keyboard.press("ArrowRight")
    assert "Feb" in tk.locator(".tkw-tooltip").text_content()
    assert axe_violations(tk) == []
    tk.evaluate("() => { document.getElementById('stage').dataset.colorScheme = 'dark'; }")
    tk.evaluate("() => { document.body.style.background = '#16171a'; }")
    assert style(tk, ".tkw-card", "color-scheme") == "dark"
    assert axe_violations(tk) == []  # the dark theme's contrasts too


def test_chart_tooltip_follows_the_pointer(tk: Any) -> None:
    from chatkit.widgets import AreaSeries, BarSeries

    show(
        tk,
        Card(
            children=[
                Chart(
                    data=[
                        {"d": "Mon", "x": 1, "y": 2},
                        {"d": "Tue", "x": 4, "y": 1},
                        {"d": "Wed", "x": 2, "y": 3},
                    ],
                    series=[
                        BarSeries(label="X", dataKey="x", stack="s", color="purple"),
                        BarSeries(label="Y", dataKey="y", stack="s"),
                        AreaSeries(label="Z", dataKey="y", curveType="monotone"),
                    ],
                    xAxis={"dataKey": "d", "labels": {"Tue": "Tuesday"}},
                    showLegend=True,
                )
            ]
        ),
    )
    chart = tk.locator('[data-widget="Chart"]')
    assert chart.locator(".tkw-legend li").all_text_contents() == ["X", "Y", "Z"]
    assert chart.locator("rect.tkw-bar").count() == 6
    # stacked: the Y bar of a day sits on top of its X bar
    x_top, y_bottom = chart.evaluate(
        """c => { const bars = c.querySelectorAll('rect.tkw-bar');
                  const y = (n, k) => Number(bars[n].getAttribute(k));
                  return [y(0, 'y'), y(3, 'y') + y(3, 'height')]; }"""
    )
    assert abs(x_top - y_bottom) < 0.01
    box = chart.locator("svg").bounding_box()
    tk.mouse.move(box["x"] + box["width"] * 0.55, box["y"] + box["height"] / 2)
    tip = chart.locator(".tkw-tooltip")
    assert tip.is_visible()
    assert tip.text_content() == "TuesdayX: 4Y: 1Z: 1"
    assert style(tk, '[data-widget="Chart"] rect.tkw-bar', "fill") != ""


def test_a_line_is_drawn_over_the_bars_with_a_dot_on_each_value(tk: Any) -> None:
    from chatkit.widgets import BarSeries, LineSeries

    show(
        tk,
        Card(
            children=[
                Chart(
                    data=[{"m": "Jan", "a": 3, "b": 1}, {"m": "Feb", "a": 5, "b": 2}],
                    # the line is listed first: it must not end up under the bars
                    series=[LineSeries(label="B", dataKey="b"), BarSeries(label="A", dataKey="a")],
                    xAxis="m",
                )
            ]
        ),
    )
    chart = tk.locator('[data-widget="Chart"] svg')
    shapes = chart.evaluate(
        "svg => [...svg.querySelectorAll('.tkw-bar, .tkw-line, .tkw-dot')]"
        ".map(e => e.getAttribute('class'))"
    )
    assert shapes == ["tkw-bar", "tkw-bar", "tkw-line", "tkw-dot", "tkw-dot"]
    # each dot sits on the line's point, ringed in its colour and filled like the card
    line = chart.locator(".tkw-line")
    start = line.evaluate("p => { const s = p.getPointAtLength(0); return [s.x, s.y]; }")
    first = chart.locator(".tkw-dot").first
    centre = [float(first.get_attribute("cx")), float(first.get_attribute("cy"))]
    assert centre == pytest.approx(start, abs=0.01)
    assert style(tk, '[data-widget="Chart"] .tkw-dot', "stroke") == style(
        tk, '[data-widget="Chart"] .tkw-line', "stroke"
    )
    assert style(tk, '[data-widget="Chart"] .tkw-dot', "fill") == style(
        tk, '[data-widget="Card"]', "background-color"
    )


@pytest.mark.parametrize("kind", [Card, ListView, BasicRoot])
def test_an_empty_root_renders(tk: Any, kind: Any) -> None:
    show(tk, kind(children=[]))
    assert tk.locator(f'[data-widget="{kind.model_fields["type"].default}"]').count() == 1


def test_unknown_components_render_their_children(tk: Any) -> None:
    widget = {
        "type": "Card",
        "children": [{"type": "Fancy", "children": [{"type": "Text", "value": "inside"}]}],
    }
    show(tk, widget)
    assert tk.locator(".tkw-unknown [data-widget='Text']").text_content() == "inside"


def test_inputs_keep_their_kinds(tk: Any) -> None:
    show(
        tk,
        Card(
            children=[
                Input(name="n", inputType="number", defaultValue="3", disabled=True),
                Input(name="p", inputType="password", pattern="[a-z]+"),
            ]
        ),
    )
    number = tk.locator('input[name="n"]')
    assert number.get_attribute("type") == "number"
    assert number.input_value() == "3"
    assert number.is_disabled()
    assert tk.locator('input[name="p"]').get_attribute("pattern") == "[a-z]+"


def test_auto_focus_auto_select_and_auto_resize(tk: Any) -> None:
    from chatkit.widgets import Textarea

    show(
        tk,
        Card(
            children=[
                Input(name="a", defaultValue="hello", autoFocus=True, autoSelect=True),
                Textarea(name="t", autoResize=True, rows=1, maxRows=4),
            ]
        ),
    )
    tk.locator('input[name="a"]:focus').wait_for()
    selection = "() => [document.activeElement.selectionStart, document.activeElement.selectionEnd]"
    assert tk.evaluate(selection) == [0, 5]
    area = tk.locator('textarea[name="t"]')
    heights = []
    for text in ("1", "1\n2\n3", "1\n2\n3\n4\n5\n6\n7\n8"):
        area.fill(text)
        heights.append(area.evaluate("e => e.offsetHeight"))
    assert heights[0] < heights[1] < heights[2]
    assert area.evaluate("e => e.scrollHeight > e.clientHeight")  # capped at maxRows


def test_a_textarea_looks_like_the_inputs_beside_it(tk: Any) -> None:
    from chatkit.widgets import Textarea

    show(
        tk,
        Card(
            children=[
                Input(name="i", size="lg"),
                Textarea(name="t", size="lg"),
            ]
        ),
    )
    for prop in ("font-family", "font-size", "border-top-left-radius", "border-top-color"):
        assert style(tk, 'textarea[name="t"]', prop) == style(tk, 'input[name="i"]', prop), prop
    # its rows set its height, not the controls' one-line height
    area = tk.locator('textarea[name="t"]')
    line = tk.locator('input[name="i"]')
    assert area.evaluate("e => e.offsetHeight") > line.evaluate("e => e.offsetHeight")


def test_a_form_inside_a_form_card_submits_its_own_fields(tk: Any) -> None:
    from chatkit.widgets import Form

    inner = Form(
        onSubmitAction=echo({"via": "inner"}),
        children=[Input(name="q", placeholder="Query"), Button(label="Find", submit=True)],
    )
    show(
        tk,
        Card(
            asForm=True,
            confirm={"label": "Save", "action": echo({"via": "card"})},
            children=[Input(name="title", placeholder="Title", variant="soft"), inner],
        ),
    )
    stage = tk.locator("#stage")
    stage.get_by_role("textbox", name="Title").fill("T")
    stage.get_by_role("textbox", name="Query").fill("Q")
    stage.get_by_role("textbox", name="Query").press("Enter")
    stage.get_by_role("button", name="Find").click()
    stage.get_by_role("textbox", name="Title").press("Enter")
    stage.get_by_role("button", name="Save").click()
    inner_values = {"via": "inner", "q": "Q"}
    card_values = {"via": "card", "title": "T", "q": "Q"}
    assert payloads(tk) == [inner_values, inner_values, card_values, card_values]
    # the soft variant: the secondary surface (#f6f7f9 in the light theme)
    assert style(tk, 'input[name="title"]', "background-color") == "rgb(246, 247, 249)"
