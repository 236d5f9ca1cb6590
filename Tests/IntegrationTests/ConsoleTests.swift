import FlareCore
import FlareIO
import FlareTestSupport
import Foundation
import Testing

/// The web console at `/ui`, driven in a real headless Chromium (Debian's chromium and
/// chromium-driver, selenium from PyPI; `make deps` installs them).
@Suite("Web console in a real browser")
struct ConsoleTests {
    /// What both browser scripts begin with: a headless Chromium that saves downloads into
    /// `<work>/downloads`, and helpers that wait (tables are redrawn under them) and fail
    /// with a screenshot.
    static let prelude = #"""
    import sys, os, time, hashlib
    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.common.exceptions import StaleElementReferenceException
    base, token, work, shots = sys.argv[1:5]
    downloads = os.path.join(work, "downloads")
    os.makedirs(downloads, exist_ok=True)
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"download.default_directory": downloads, "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    def fail(what):
        driver.save_screenshot(os.path.join(shots, "failure.png"))
        print("FAILED: " + what + "\nnotice: " + driver.find_element(By.ID, "notice").text)
        driver.quit(); sys.exit(1)
    def wait(condition, what, seconds=30):
        # The page redraws a table when what it shows changes: an element read a moment ago
        # may be gone, and the condition is asked again.
        try:
            return WebDriverWait(driver, seconds, poll_frequency=0.2, ignored_exceptions=(StaleElementReferenceException,)).until(lambda d: condition())
        except Exception as error:
            fail("%s (%s)" % (what, type(error).__name__))
    def rows():
        return driver.find_elements(By.CSS_SELECTOR, "#listing tbody tr")
    def sign_in():
        driver.find_element(By.ID, "token").send_keys(token)
        driver.find_element(By.CSS_SELECTOR, "#token-form button").click()
    def node_rows():
        return driver.find_elements(By.CSS_SELECTOR, "#nodes tbody tr")
    def click(find, what):
        # Found and clicked in one go, again if the row was redrawn in between; `find` gives
        # None while what it looks for is not (yet, or again) on the page.
        def attempt():
            element = find()
            if element is None:
                return False
            element.click()
            return True
        wait(attempt, what)
    """#

    static let script = prelude + "\n" + #"""
    try:
        driver.get(base + "/ui")
        # Without the token: the nodes from /health, no actions.
        wait(lambda: len(node_rows()) == 3, "three data nodes listed without a token")
        sign_in()
        wait(lambda: len(node_rows()) == 3 and all("active" in r.text and "up" in r.text and "drain" in r.text for r in node_rows()),
             "three active, up nodes with actions once the token is in")
        wait(lambda: "state" in driver.find_element(By.ID, "repair").text, "the repair panel")
        wait(lambda: all("no pass yet" in r.text or "this pass" in r.text for r in node_rows()), "each node's scrub progress")
        time.sleep(2.5)  # a few points on the plots
        driver.save_screenshot(os.path.join(shots, "console-cluster.png"))
        # Objects: upload 20 MiB through the page, see it listed, download it back, delete it.
        driver.get(base + "/ui/#objects")
        wait(lambda: driver.find_element(By.ID, "bucket").get_attribute("value") == "flare", "the native bucket chosen")
        source = os.path.join(work, "console-upload.bin")
        with open(source, "wb") as f:
            f.write(os.urandom(20 << 20))
        driver.find_element(By.ID, "upload-key").send_keys("from-browser/console-upload.bin")
        driver.find_element(By.ID, "file").send_keys(source)
        driver.find_element(By.CSS_SELECTOR, "#upload-form button").click()
        wait(lambda: "stored from-browser/console-upload.bin" in driver.find_element(By.ID, "upload-status").text,
             "the upload stored: " + driver.find_element(By.ID, "upload-status").text, 120)
        wait(lambda: any("from-browser/" in r.text for r in driver.find_elements(By.CSS_SELECTOR, "#listing tbody tr")), "the prefix listed")
        driver.find_element(By.CSS_SELECTOR, "#listing a.folder").click()
        row = wait(lambda: next((r for r in driver.find_elements(By.CSS_SELECTOR, "#listing tbody tr")
                                 if r.get_attribute("data-key") == "from-browser/console-upload.bin"), None), "the object listed under its prefix")
        expect_size = "20.0 MiB"
        if expect_size not in row.text:
            fail("size shown: " + row.text)
        driver.save_screenshot(os.path.join(shots, "console-objects.png"))
        row.find_element(By.XPATH, ".//button[text()='download']").click()
        target = os.path.join(downloads, "console-upload.bin")
        wait(lambda: os.path.exists(target) and os.path.getsize(target) == 20 << 20, "the download saved", 60)
        with open(source, "rb") as a, open(target, "rb") as b:
            if hashlib.sha256(a.read()).digest() != hashlib.sha256(b.read()).digest():
                fail("the downloaded file differs from the uploaded one")
        print("downloaded", target)
        row.find_element(By.XPATH, ".//button[text()='delete']").click()
        WebDriverWait(driver, 10).until(EC.alert_is_present()).accept()
        wait(lambda: not any(r.get_attribute("data-key") == "from-browser/console-upload.bin"
                             for r in driver.find_elements(By.CSS_SELECTOR, "#listing tbody tr")), "the object gone from the listing")
        # A node drained from the page, with the token.
        driver.get(base + "/ui/#cluster")
        wait(lambda: len(node_rows()) == 3 and "drain" in node_rows()[2].text, "the cluster view again")
        click(lambda: node_rows()[2].find_element(By.XPATH, ".//button[text()='drain']"), "the drain button")
        WebDriverWait(driver, 10).until(EC.alert_is_present()).accept()
        wait(lambda: "draining" in node_rows()[2].text, "the third node draining")
        driver.save_screenshot(os.path.join(shots, "console-drained.png"))
        print("console OK")
    finally:
        driver.quit()
    """#

    /// Whether the browser is here; CI installs it (make deps), and there a missing one is a
    /// failure, not a skip.
    static func browserInstalled() throws -> Bool {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/chromedriver") else {
            try #require(ProcessInfo.processInfo.environment["CI"] == nil, "chromium-driver is not installed (make deps installs it)")
            print("skipped: chromium-driver is not installed here (make deps installs it)")
            return false
        }
        return true
    }

    /// Runs `script` against `cluster` (base URL, admin token, work and screenshot directories,
    /// then `arguments`) and expects it to print `ok`.
    static func runScript(_ script: String, named name: String, _ cluster: Cluster, engine: IOEngineKind, arguments: [String] = [],
                          ok: String) async throws {
        let path = "\(cluster.scratch.tmp)/\(name).py"
        try script.write(toFile: path, atomically: true, encoding: .utf8)
        // FLARE_CONSOLE_SCREENSHOTS keeps the screenshots (docs/ has the ones looked at).
        let shots = ProcessInfo.processInfo.environment["FLARE_CONSOLE_SCREENSHOTS"].map { "\($0)/\(engine)" } ?? cluster.scratch.tmp
        try FileManager.default.createDirectory(atPath: shots, withIntermediateDirectories: true)
        let run = try await runProgram("/usr/bin/env", ["python3", path, cluster.base, cluster.credentials.adminToken, cluster.scratch.files, shots]
                                            + arguments, in: cluster.scratch.tmp)
        #expect(run.status == 0 && run.stdout.contains(ok), "exit \(run.status): \(run.stdout.suffix(2000)) \(run.stderr.suffix(3000))")
    }

    @Test("load /ui, see three nodes, upload 20 MiB through the page, download it back (same bytes), delete it, drain a node with the token",
          arguments: testedEngines)
    func console(engine: IOEngineKind) async throws {
        guard try Self.browserInstalled() else { return }
        try await withCluster(engine, "console") { cluster in
            try await Self.runScript(Self.script, named: "console", cluster, engine: engine, ok: "console OK")
            // What the page did, checked from outside: the object is gone, the node draining.
            #expect(try await curl(["-I", cluster.url("from-browser/console-upload.bin")], scratch: cluster.scratch.tmp).status == 404)
            let nodes = try await curl(cluster.credentials.adminHeader + ["\(cluster.base)/admin/nodes"], scratch: cluster.scratch.tmp)
            #expect(nodes.text.contains("\"draining\""), "\(nodes)")
            #expect(nodes.text.contains("\"scrub\":{"), "each node's scrub progress in /admin/nodes: \(nodes)")
        }
    }

    /// Keys a browser must not take for markup or for path syntax. "odd/../escape.bin" sent as
    /// a path would be resolved by the browser to "escape.bin" — a download of another object,
    /// or its deletion — so the decoy "escape.bin" must survive the page deleting it.
    static let oddKeys = [
        "odd/<img src=x onerror=window.__pwned=1>.bin",
        "odd/quote\"and'apostrophe & amp%41.bin",
        "odd/hash#question?.bin",
        "odd/日本語 ü.bin",
        "odd/../escape.bin",
    ]

    /// argv[5:]: the odd keys, then the file each key's object was stored from (in the same order).
    static let oddKeysScript = prelude + "\n" + #"""
    keys = sys.argv[5:5 + (len(sys.argv) - 5) // 2]
    digests = {key: hashlib.sha256(open(path, "rb").read()).hexdigest() for key, path in zip(keys, sys.argv[5 + len(keys):])}
    def row_of(key):
        return next((r for r in rows() if r.get_attribute("data-key") == key), None)
    def open_folder(label):
        click(lambda: next((a for a in driver.find_elements(By.CSS_SELECTOR, "#listing a.folder") if a.text == label), None), "the folder " + label)
    def button_of(key, label):
        # None while the listing is redrawn (after each delete) and the row is not back yet.
        row = row_of(key)
        return row.find_element(By.XPATH, ".//button[text()='%s']" % label) if row is not None else None
    def downloaded(digest):
        for name in os.listdir(downloads):
            path = os.path.join(downloads, name)
            if not name.endswith(".crdownload") and os.path.isfile(path):
                with open(path, "rb") as f:
                    if hashlib.sha256(f.read()).hexdigest() == digest:
                        return name
        return None
    def download_and_delete(key):
        click(lambda: button_of(key, "download"), "download " + key)
        wait(lambda: downloaded(digests[key]), "the download of " + key + " (the bytes of that object)", 60)
        click(lambda: button_of(key, "delete"), "delete " + key)
        WebDriverWait(driver, 10).until(EC.alert_is_present()).accept()
        wait(lambda: row_of(key) is None, key + " gone from the listing")
    try:
        driver.get(base + "/ui/#objects")
        sign_in()
        wait(lambda: driver.find_element(By.ID, "bucket").get_attribute("value") == "flare", "the native bucket chosen")
        open_folder("odd/")
        shown = [k for k in keys if k.startswith("odd/") and "/../" not in k]
        wait(lambda: all(row_of(k) is not None for k in shown), "every odd key listed under odd/")
        for key in shown:
            text = row_of(key).find_elements(By.TAG_NAME, "td")[0].text
            if text != key[len("odd/"):]:
                fail("%r shown as %r" % (key, text))
        if driver.find_elements(By.CSS_SELECTOR, "#listing img") or driver.execute_script("return window.__pwned !== undefined"):
            fail("a key was taken for markup")
        driver.save_screenshot(os.path.join(shots, "console-odd-keys.png"))
        for key in shown:
            download_and_delete(key)
        open_folder("../")
        wait(lambda: row_of("odd/../escape.bin") is not None, "odd/../escape.bin listed under odd/../")
        download_and_delete("odd/../escape.bin")
        print("odd keys OK")
    finally:
        driver.quit()
    """#

    @Test("keys with markup, quotes, %, #, ?, non-ASCII and a .. segment: shown as text, downloaded and deleted as themselves, nothing else touched",
          arguments: testedEngines)
    func oddKeys(engine: IOEngineKind) async throws {
        guard try Self.browserInstalled() else { return }
        try await withCluster(engine, "console-odd") { cluster in
            // Every slash as %2F too: curl, like a browser, would resolve the .. segment.
            let encode = { (key: String) in ObjectKey.encode(key).replacingOccurrences(of: "/", with: "%2F") }
            var sources: [String] = []
            for (index, key) in (Self.oddKeys + ["escape.bin"]).enumerated() {
                let file = try await cluster.randomFile("odd-\(index)", size: 1000 + 777 * index)
                #expect(try await cluster.put(encode(key), file: file).status == 201, "PUT \(key)")
                sources.append(file)
            }
            try await Self.runScript(Self.oddKeysScript, named: "odd-keys", cluster, engine: engine,
                                     arguments: Self.oddKeys + sources.prefix(Self.oddKeys.count), ok: "odd keys OK")
            for key in Self.oddKeys {
                #expect(try await curl(["-I", cluster.url(encode(key))], scratch: cluster.scratch.tmp).status == 404, "\(key) still there")
            }
            #expect(try await curl(["-I", cluster.url("escape.bin")], scratch: cluster.scratch.tmp).status == 200,
                    "the decoy escape.bin was deleted in place of odd/../escape.bin")
        }
    }
}
