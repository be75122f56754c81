"""The playground page in a real browser: headless Chromium driven by Selenium against a real
`assistd serve` process (with an API key) and a scripted chat-completions model.

The tests run in file order and share one browser and one server, like a person working through
the page. Screenshots go to `test-artifacts/playground/`. Without Chromium and chromedriver the
module skips, or fails when CI is set.
"""

import os
import shutil
import tempfile
import time
from pathlib import Path

import httpx
import openai
import pytest

from tests.support import scripted_model as scripted
from tests.support.server import Server

CHROMIUM = os.environ.get("CHROMIUM_BINARY", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "playground"
API_KEY = "sk-playground-test-key"
MODEL = "scripted-model"
WAIT = 20


def _need_browser():
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not shutil.which(p)]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package")
    if missing:
        reason = f"the playground test needs {', '.join(missing)}"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="module")
def model():
    with scripted.ScriptedModel() as model:
        yield model


@pytest.fixture(scope="module")
def server(model, tmp_path_factory):
    env = {"ASSISTD_API_KEY": API_KEY, "ASSISTD_MODEL_BASE_URL": model.base_url}
    with Server(tmp_path_factory.mktemp("playground") / "data", env=env) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server):
    return server.client()


@pytest.fixture(scope="module")
def browser():
    _need_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="playground-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_script_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def page(browser, server):
    return Page(browser, server)


class Page:
    """The few moves a person makes on the playground."""

    def __init__(self, driver, server):
        from selenium.common.exceptions import TimeoutException
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as EC
        from selenium.webdriver.support.ui import Select, WebDriverWait

        self.driver, self.server = driver, server
        self.By, self.EC, self.Select, self.Wait, self.Timeout = (
            By,
            EC,
            Select,
            WebDriverWait,
            TimeoutException,
        )
        self.wait = WebDriverWait(driver, WAIT, poll_frequency=0.1)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def open(self, path: str = "/", ready: bool = True) -> None:
        """Load the page; with `ready`, wait until it has loaded its assistants and thread."""
        self.driver.get(self.server.url + path)
        if ready:
            self.until(
                lambda d: d.execute_script("return document.body.dataset.ready === 'true'"),
                "page never ready",
            )

    def css(self, selector: str):
        return self.driver.find_element(self.By.CSS_SELECTOR, selector)

    def all(self, selector: str):
        return self.driver.find_elements(self.By.CSS_SELECTOR, selector)

    def by_id(self, element_id: str):
        return self.driver.find_element(self.By.ID, element_id)

    def until(self, condition, message: str = "", timeout: float = WAIT):
        if timeout == WAIT:
            return self.wait.until(condition, message)
        return self.Wait(self.driver, timeout, poll_frequency=0.5).until(condition, message)

    def visible(self, selector: str):
        return self.until(
            self.EC.visibility_of_element_located((self.By.CSS_SELECTOR, selector)),
            f"{selector} never became visible",
        )

    def text_in(self, selector: str, text: str) -> None:
        try:
            self.until(self.EC.text_to_be_present_in_element((self.By.CSS_SELECTOR, selector), text))
        except self.Timeout:
            shown = self.driver.execute_script(
                "const found = document.querySelector(arguments[0]); return found ? found.innerText : null",
                selector,
            )
            raise AssertionError(
                f"{text!r} never appeared in {selector}, which shows {shown!r}; errors: {self.errors()!r}"
            ) from None

    def fill(self, element_id: str, text: str) -> None:
        box = self.by_id(element_id)
        box.clear()
        box.send_keys(text)

    def click(self, selector: str) -> None:
        element = self.visible(selector)
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
        element.click()

    def errors(self) -> str:
        return self.by_id("errors").text

    def dismiss_errors(self) -> None:
        self.driver.execute_script("document.getElementById('errors').replaceChildren()")

    def screenshot(self, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        self.driver.save_screenshot(str(path))
        return path

    def full_screenshot(self, name: str) -> Path:
        """The whole page, not just the window (the chat column can be long)."""
        height = self.driver.execute_script("return document.documentElement.scrollHeight")
        width = self.driver.get_window_size()["width"]
        self.driver.set_window_size(width, max(height + 140, 1000))
        try:
            return self.screenshot(name)
        finally:
            self.driver.set_window_size(width, 1000)

    def send(self, text: str) -> None:
        from selenium.webdriver.common.keys import Keys

        box = self.by_id("composer-text")
        box.clear()
        box.send_keys(text)
        box.send_keys(Keys.ENTER)

    def record_answers(self) -> None:
        """Keep every text the last assistant message shows, to prove the answer arrived in pieces."""
        self.driver.execute_script("""
            window.seenAnswers = [];
            const box = document.getElementById('messages');
            new MutationObserver(() => {
                const all = box.querySelectorAll('article.msg.assistant .msg-body');
                const text = all.length ? all[all.length - 1].textContent : '';
                const last = window.seenAnswers[window.seenAnswers.length - 1];
                if (text && text !== last) window.seenAnswers.push(text);
            }).observe(box, {subtree: true, childList: true, characterData: true});
        """)

    def seen_answers(self) -> list[str]:
        return self.driver.execute_script("return window.seenAnswers || []")

    def wait_idle(self) -> None:
        self.until(lambda d: d.find_element(self.By.ID, "send").is_enabled(), "the run never finished")


def use_assistant(page, client, name: str):
    """Pick the named assistant in the list (the chat then runs it); returns it from the API."""
    assistant = next(a for a in client.beta.assistants.list().data if a.name == name)
    page.click(f'#assistant-list [data-assistant-id="{assistant.id}"]')
    page.text_in("#chat-context", f"Chatting with {name}")
    return assistant


# ------------------------------------------------------------------------------------------------------------


def test_page_is_served_at_root_and_playground(server):
    for path in ("/", "/playground", "/playground/"):
        response = httpx.get(server.url + path)
        assert response.status_code == 200, path
        assert "assistd playground" in response.text
        assert "http://" not in response.text and "https://" not in response.text  # nothing external to load
    for asset, kind in (("app.js", "javascript"), ("style.css", "text/css")):
        response = httpx.get(f"{server.url}/playground/{asset}")
        assert response.status_code == 200 and kind in response.headers["content-type"]
    assert httpx.get(server.url + "/playground/__init__.py").status_code == 404
    assert httpx.get(server.url + "/v1/assistants").status_code == 401  # the page is public, the API is not


def test_asks_for_the_api_key_on_401(page):
    page.open(ready=False)
    page.visible("#key-dialog")
    assert "API key" in page.by_id("key-reason").text  # the server's own 401 message
    page.screenshot("01-api-key-prompt")
    page.fill("key-input", API_KEY)
    page.click("#key-save")
    page.text_in("#assistant-list", "No assistants yet")
    page.until(lambda d: page.Select(page.by_id("a-model")).options, "models were never listed")
    assert page.Select(page.by_id("a-model")).first_selected_option.text == MODEL
    assert page.driver.execute_script("return localStorage.getItem('assistd.apiKey')") == API_KEY
    assert page.errors() == ""


def test_api_errors_are_shown_readably(page, client):
    page.click("#new-assistant")
    page.fill("a-name", "Broken")
    page.fill("a-functions", '{"name": "not a valid name!", "parameters": {"type": "object"}}')
    page.click("#a-save")
    page.text_in("#errors", "Could not save the assistant")
    assert "function names must be" in page.errors()  # the API's error.message, not raw JSON
    assert "{" not in page.errors()
    page.screenshot("02-error")
    page.dismiss_errors()
    assert client.beta.assistants.list().data == []


def test_create_and_edit_an_assistant(page, client, tmp_path):
    page.click("#new-assistant")
    page.fill("a-name", "Data helper")
    page.Select(page.by_id("a-model")).select_by_visible_text(MODEL)
    page.fill("a-instructions", "Answer briefly.")
    page.fill(
        "a-functions",
        '[{"name": "get_weather", "description": "Weather for a city", '
        '"parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]',
    )
    page.by_id("a-code").click()
    data = tmp_path / "numbers.csv"
    data.write_text("x,y\n1,2\n3,4\n")
    page.by_id("a-code-upload").send_keys(str(data))
    page.text_in("#a-code-files", "numbers.csv")
    page.click("#a-save")
    page.text_in("#assistant-list", "Data helper")
    page.text_in("#editor-heading", "Edit Data helper")
    assert page.errors() == ""

    (assistant,) = client.beta.assistants.list().data
    assert assistant.name == "Data helper" and assistant.model == MODEL
    assert assistant.instructions == "Answer briefly."
    assert [t.type for t in assistant.tools] == ["code_interpreter", "function"]
    assert assistant.tools[1].function.name == "get_weather"
    (file_id,) = assistant.tool_resources.code_interpreter.file_ids
    assert client.files.retrieve(file_id).filename == "numbers.csv"

    page.fill("a-name", "Data analyst")
    page.click("#a-save")
    page.text_in("#assistant-list", "Data analyst")
    assert client.beta.assistants.retrieve(assistant.id).name == "Data analyst"
    assert client.beta.assistants.retrieve(assistant.id).tool_resources.code_interpreter.file_ids == [file_id]

    # Another assistant, then delete it through the page.
    page.click("#new-assistant")
    page.fill("a-name", "Throwaway")
    page.click("#a-save")
    page.text_in("#assistant-list", "Throwaway")
    page.click("#a-delete")
    page.driver.switch_to.alert.accept()
    page.until(
        lambda d: "Throwaway" not in page.by_id("assistant-list").text, "the deleted assistant stayed listed"
    )
    assert [a.name for a in client.beta.assistants.list().data] == ["Data analyst"]
    page.click(f'#assistant-list [data-assistant-id="{assistant.id}"]')
    page.text_in("#editor-heading", "Edit Data analyst")
    page.screenshot("03-assistant")


def test_file_search_files_go_into_a_vector_store(page, client, server, tmp_path):
    notes = tmp_path / "harbour-notes.txt"
    notes.write_text(
        "The lighthouse keeper of Port Elm is named Marguerite Osei. She has kept the light since 1987."
    )
    page.by_id("a-search").click()
    page.by_id("a-search-upload").send_keys(str(notes))
    page.text_in("#a-search-files", "harbour-notes.txt")
    page.click("#a-save")
    page.until(lambda d: "Files indexed" in page.by_id("a-search-status").text, "never indexed", timeout=180)
    assert "1 ready" in page.by_id("a-search-status").text
    assert page.errors() == ""
    (assistant,) = client.beta.assistants.list().data
    assert [t.type for t in assistant.tools] == ["code_interpreter", "file_search", "function"]
    (store_id,) = assistant.tool_resources.file_search.vector_store_ids
    (store_file,) = client.vector_stores.files.list(store_id).data
    assert client.files.retrieve(store_file.id).filename == "harbour-notes.txt"
    page.screenshot("03-file-search-files")


def test_send_a_message_on_a_new_thread(page, client, server, model, tmp_path):
    answer = "Hello! I am the scripted model, streaming this answer word by word."
    model.replace(scripted.text(answer, delay=0.03))
    page.click("#new-assistant")  # a plain assistant: no tools, so no sandbox for this run
    page.fill("a-name", "Plain chat")
    page.click("#a-save")
    page.text_in("#chat-context", "Chatting with Plain chat")
    page.click("#new-thread")
    notes = tmp_path / "notes.txt"
    notes.write_text("Some notes.")
    page.by_id("composer-files").send_keys(str(notes))
    page.by_id("attach-code").click()  # attach the file without giving it to a tool
    page.record_answers()
    page.send("Hi there, who are you?")
    page.text_in("#messages article.msg.user", "Hi there, who are you?")
    page.text_in("#messages article.msg.user .attachments", "notes.txt")
    page.text_in("#thread-list", "Hi there, who are you?")
    thread_id = page.css("#thread-list [data-thread-id]").get_attribute("data-thread-id")
    message = client.beta.threads.messages.list(thread_id, order="asc").data[0]
    assert message.role == "user" and message.content[0].text.value == "Hi there, who are you?"
    assert client.files.retrieve(message.attachments[0].file_id).filename == "notes.txt"

    # The answer streams in: the page showed it partly written before it was complete.
    page.text_in("#messages article.msg.assistant:last-of-type", answer)
    page.wait_idle()
    seen = page.seen_answers()
    assert seen[-1].strip() == answer
    partial = [shown.strip() for shown in seen[:-1]]
    assert len(partial) >= 3, f"the answer did not arrive in pieces: {seen}"
    assert all(answer.startswith(shown) for shown in partial), (
        f"the page showed text the answer does not have: {seen}"
    )
    assert page.errors() == ""
    page.screenshot("04-streamed-answer")

    # The run steps inspector shows the run's message_creation step.
    page.text_in("#steps", "message creation")
    # Reloading brings the thread back from localStorage and the API.
    page.open()
    page.text_in("#messages", answer)
    assert page.css(f'#thread-list [data-thread-id="{thread_id}"]').get_attribute("aria-current") == "true"


TINY_PNG_CODE = """\
import struct, zlib
from IPython.display import Image, display
w, h = 64, 48
raw = b"".join(b"\\x00" + b"".join(bytes((x * 4, y * 5, 160)) for x in range(w)) for y in range(h))
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
png = b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(
    b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
display(Image(data=png))
print("sum is", sum(range(10)))
"""


@pytest.mark.docker
def test_code_run_shows_code_logs_and_image(page, client, server, model, docker_client):
    use_assistant(page, client, "Data analyst")
    model.replace(
        scripted.tool_call("python", {"code": TINY_PNG_CODE}),
        scripted.text("Here is the gradient image."),
    )
    page.send("Draw a small gradient and add up 0..9.")
    page.until(  # the first run in a thread starts its sandbox (and may build the kernel image)
        lambda d: page.all("#messages .step .logs, #messages .chat-note.failed, #errors .error"),
        "the code never ran",
        timeout=300,
    )
    if page.errors():  # the run failed or could not start: the page says why
        page.full_screenshot("05-code-run-failed")
        pytest.fail(page.errors())
    page.text_in("#messages .step .code-input", "display(Image(data=png))")
    page.text_in("#messages .step .logs", "sum is 45")
    page.text_in("#messages article.msg.assistant:last-of-type", "Here is the gradient image.")
    page.wait_idle()
    page.until(
        lambda d: d.execute_script(
            "return [...document.querySelectorAll('#messages img')]"
            ".some(i => i.complete && i.naturalWidth === 64)"
        ),
        "the generated image never rendered",
    )
    assert page.errors() == ""
    page.full_screenshot("05-code-run")


def test_file_search_citation(page, client, server, model):
    assistant = use_assistant(page, client, "Data analyst")
    if not (assistant.tool_resources.file_search and assistant.tool_resources.file_search.vector_store_ids):
        pytest.skip("the assistant has no file search files (the vector stores API is missing)")
    model.replace(
        scripted.tool_call("file_search", {"query": "lighthouse keeper of Port Elm"}),
        scripted.text("The keeper is Marguerite Osei【0:0†harbour-notes.txt】."),
    )
    page.send("Who keeps the Port Elm lighthouse?")
    page.text_in("#messages article.msg.assistant:last-of-type", "The keeper is Marguerite Osei[1].")
    page.wait_idle()
    page.text_in("#messages article.msg.assistant:last-of-type .refs", "harbour-notes.txt")
    page.text_in("#messages article.msg.assistant:last-of-type .refs .quote", "Marguerite Osei")
    assert page.errors() == ""
    page.full_screenshot("06-citation")


def test_function_call_answered_from_the_page(page, client, server, model):
    use_assistant(page, client, "Data analyst")
    model.replace(
        scripted.tool_call("get_weather", {"city": "Lyon"}),
        scripted.text("It is sunny in Lyon, 21 °C."),
    )
    page.send("What's the weather in Lyon?")
    page.visible("#tool-outputs")
    page.text_in("#tool-calls", "get_weather")
    page.text_in("#tool-calls", '"city": "Lyon"')
    page.screenshot("07-function-call")
    box = page.css("#tool-calls textarea")
    box.send_keys('{"sky": "sunny", "celsius": 21}')
    page.click("#tool-outputs button[type=submit]")
    page.text_in("#messages article.msg.assistant:last-of-type", "It is sunny in Lyon, 21 °C.")
    page.wait_idle()
    assert not page.by_id("tool-outputs").is_displayed()
    assert page.errors() == ""


def test_narrow_screen(page):
    size = page.driver.get_window_size()
    page.driver.set_window_size(390, 900)
    try:
        page.open()
        page.text_in("#assistant-list", "Data analyst")
        time.sleep(0.3)
        widths = page.driver.execute_script(
            "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert widths[0] <= widths[1] + 1, f"the page scrolls sideways on a narrow screen: {widths}"
        page.screenshot("08-narrow")
    finally:
        page.driver.set_window_size(size["width"], size["height"])


def test_delete_a_thread(page, client):
    page.open()
    thread_id = page.css("#thread-list [data-thread-id]").get_attribute("data-thread-id")
    page.click('#thread-list button[aria-label^="Delete thread"]')
    page.driver.switch_to.alert.accept()
    page.text_in("#thread-list", "No threads yet")
    assert page.all("#messages article") == []
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.retrieve(thread_id)
