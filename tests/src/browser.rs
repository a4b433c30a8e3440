//! Real headless browsers for browser tests, driven over WebDriver: one driver
//! process per [`Browser`] on a free loopback port, one session in it. Chromium
//! and chromedriver come from Debian's packages (`chromium`, `chromium-driver`),
//! Firefox from Debian's `firefox-esr` with geckodriver built from crates.io; all
//! installed by `scripts/test.sh`. Dropping the browser ends the session and the
//! driver.

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Browser {
    pub client: Client,
    driver: Child,
    /// Where the browser saves downloads.
    pub downloads: PathBuf,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Where the geckodriver the scripts build lives, if not on `PATH`.
fn geckodriver() -> PathBuf {
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/tools/bin/geckodriver");
    if built.exists() {
        built
    } else {
        PathBuf::from("geckodriver")
    }
}

impl Browser {
    /// A fresh Chromium (its own profile) saving downloads into `downloads`.
    pub async fn start(downloads: &Path) -> Browser {
        let port = free_port();
        let driver = spawn_driver(Command::new("chromedriver").arg(format!("--port={port}")), "chromedriver");
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,900", "--no-first-run", "--disable-extensions"],
                "prefs": {
                    "download.default_directory": downloads.to_string_lossy(),
                    "download.prompt_for_download": false,
                    "download.directory_upgrade": true,
                    "safebrowsing.enabled": false,
                },
            }),
        );
        caps.insert("unhandledPromptBehavior".into(), json!("accept"));
        Self::connect(port, caps, driver, downloads).await
    }

    /// A fresh headless Firefox (Debian's firefox-esr) through geckodriver, which
    /// `scripts/test.sh` builds from crates.io into `target/tools/`.
    pub async fn firefox(downloads: &Path) -> Browser {
        let port = free_port();
        let marionette = free_port();
        let mut cmd = Command::new(geckodriver());
        cmd.arg("--port").arg(port.to_string()).arg("--marionette-port").arg(marionette.to_string());
        let driver = spawn_driver(&mut cmd, "geckodriver");
        let mut caps = serde_json::Map::new();
        caps.insert(
            "moz:firefoxOptions".into(),
            json!({
                "binary": "/usr/bin/firefox-esr",
                "args": ["-headless", "-width", "1280", "-height", "900"],
                "prefs": {
                    "browser.download.folderList": 2,
                    "browser.download.dir": downloads.to_string_lossy(),
                    "media.autoplay.default": 0,
                },
            }),
        );
        caps.insert("unhandledPromptBehavior".into(), json!("accept"));
        Self::connect(port, caps, driver, downloads).await
    }

    async fn connect(
        port: u16,
        caps: serde_json::Map<String, serde_json::Value>,
        driver: Child,
        downloads: &Path,
    ) -> Browser {
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(60);
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector).capabilities(caps.clone()).connect(&url).await {
                Ok(c) => break c,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("no WebDriver session on port {port}: {e}"),
            }
        };
        Browser { client, driver, downloads: downloads.to_path_buf() }
    }

    /// Waits until `css` matches an element, and returns it.
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"))
    }

    /// Waits until `script` (a JavaScript expression) is true in the page.
    pub async fn until(&self, what: &str, script: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let v = self.client.execute(&format!("return !!({script});"), vec![]).await;
            if matches!(v, Ok(serde_json::Value::Bool(true))) {
                return;
            }
            if Instant::now() > deadline {
                let text = self.text("body").await;
                panic!("timed out waiting for {what} ({script}); the page says:\n{text}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The value of a JavaScript expression.
    pub async fn eval(&self, script: &str) -> serde_json::Value {
        self.client.execute(&format!("return ({script});"), vec![]).await.unwrap()
    }

    pub async fn text(&self, css: &str) -> String {
        match self.client.find(Locator::Css(css)).await {
            Ok(el) => el.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    pub async fn fill(&self, css: &str, value: &str) {
        let el = self.find(css).await;
        el.clear().await.unwrap();
        el.send_keys(value).await.unwrap();
    }

    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap_or_else(|e| panic!("click on {css}: {e}"));
    }

    /// Fills the console's sign-in form and sends it.
    pub async fn sign_in(&self, access: &str, secret: &str) {
        self.fill("#access", access).await;
        self.fill("#secret", secret).await;
        self.click("#signin button[type=submit]").await;
    }

    /// A mouse drag over the element `css`: pressed at the first point, moved through
    /// the others, released at the last (offsets in CSS pixels from its centre).
    pub async fn drag(&self, css: &str, points: &[(f64, f64)]) {
        use fantoccini::actions::{InputSource, MouseActions, PointerAction, MOUSE_BUTTON_LEFT};
        let el = self.find(css).await;
        let (x, y) = points[0];
        let mut drag = MouseActions::new("mouse".into())
            .then(PointerAction::MoveToElement { element: el.clone(), duration: None, x, y })
            .then(PointerAction::Down { button: MOUSE_BUTTON_LEFT });
        for &(x, y) in &points[1..] {
            let duration = Some(Duration::from_millis(60));
            drag = drag.then(PointerAction::MoveToElement { element: el.clone(), duration, x, y });
        }
        let drag = drag.then(PointerAction::Up { button: MOUSE_BUTTON_LEFT });
        self.client.perform_actions(drag).await.unwrap_or_else(|e| panic!("drag over {css}: {e}"));
    }

    /// A PNG of the page as it is now, written to `dir/name.png`.
    pub async fn screenshot(&self, dir: &Path, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    /// Waits for a finished download named `name` and returns its bytes.
    pub async fn downloaded(&self, name: &str, timeout: Duration) -> Vec<u8> {
        let path = self.downloads.join(name);
        let partial = self.downloads.join(format!("{name}.crdownload"));
        let deadline = Instant::now() + timeout;
        while !path.exists() || partial.exists() {
            assert!(Instant::now() < deadline, "no download {name} in {}", self.downloads.display());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        std::fs::read(path).unwrap()
    }

    /// Limits how fast the page may upload (Chromium's network emulation, through
    /// chromedriver's own endpoint); `None` lifts the limit.
    pub async fn throttle_uploads(&self, bytes_per_sec: Option<u64>) {
        let up = bytes_per_sec.map(|b| b as i64).unwrap_or(-1);
        let conditions = json!({"network_conditions": {"offline": false, "latency": 0,
            "download_throughput": -1, "upload_throughput": up}});
        self.client.issue_cmd(NetworkConditions(conditions)).await.expect("set network conditions");
    }

    /// Ends the session (the browser closes), then the driver.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

/// chromedriver's `POST /session/ID/chromium/network_conditions`.
#[derive(Debug)]
struct NetworkConditions(serde_json::Value);

impl fantoccini::wd::WebDriverCompatibleCommand for NetworkConditions {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/chromium/network_conditions", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _url: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.0.to_string()))
    }
}

/// Starts a WebDriver server in its own process group, so that the browsers it
/// starts go with it.
fn spawn_driver(cmd: &mut Command, name: &str) -> Child {
    cmd.process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{name} is needed for browser tests (scripts/test.sh installs it): {e}"))
}

impl Drop for Browser {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the driver's process group, which this browser owns.
        unsafe { libc::kill(-(self.driver.id() as i32), libc::SIGKILL) };
        let _ = self.driver.wait();
    }
}

/// Where browser tests write their screenshots: `target/console-screenshots/`, or
/// `CAIRN_ARTEFACTS` when set.
pub fn artefacts() -> PathBuf {
    match std::env::var_os("CAIRN_ARTEFACTS") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/console-screenshots"),
    }
}
