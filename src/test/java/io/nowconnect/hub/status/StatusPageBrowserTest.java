package io.nowconnect.hub.status;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

import io.nowconnect.hub.Hub;
import io.nowconnect.testkit.Harness;
import io.nowconnect.testkit.RawAgent;
import io.nowconnect.testkit.TestKit;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtendWith;
import org.openqa.selenium.By;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The hub's status page in a real browser: Debian's {@code chromium} driven by its {@code chromedriver} (both from apt,
 * installed by {@code .ci/run}) through Selenium, headless, with a fresh profile and nothing downloaded (the driver
 * and browser paths are given, so Selenium Manager is not asked). A real hub with three connectors, three real agents
 * serving two of them, real client traffic through an echo target: the page loads, the unserved connector is marked,
 * the numbers and the plot follow the traffic (the script's refresh from {@code /status.json}), a token with under a
 * day left is highlighted, and a hostile agent id shows as text, never as markup. The screenshot is written to
 * {@code target/status-page.png}.
 */
@Timeout(180)
@ExtendWith(TestKit.class)
class StatusPageBrowserTest {
    static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
    static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    static final Path SCREENSHOT = Path.of("target", "status-page.png");
    private static final Duration WAIT = Duration.ofSeconds(60);

    private static WebDriver driver;
    private static ChromeDriverService service;
    private static Path profile;

    @BeforeAll
    static void browser() throws IOException {
        boolean present = Files.isExecutable(CHROMEDRIVER) && Files.isExecutable(CHROMIUM);
        if (System.getenv("CI") != null) {
            assertTrue(present, ".ci/run installs chromium and chromium-driver: " + CHROMIUM + ", " + CHROMEDRIVER);
        }
        assumeTrue(present, "no " + CHROMIUM + " / " + CHROMEDRIVER + " (apt-get install chromium chromium-driver)");
        profile = Files.createTempDirectory("nc-chromium-");
        service = new ChromeDriverService.Builder()
                .usingDriverExecutable(CHROMEDRIVER.toFile())
                .usingAnyFreePort()
                .build();
        ChromeOptions options = new ChromeOptions();
        options.setBinary(CHROMIUM.toFile());
        options.addArguments("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                             "--disable-background-networking", "--disable-component-update", "--disable-sync",
                             "--disable-dev-shm-usage", "--window-size=1360,1000", "--user-data-dir=" + profile);
        driver = new ChromeDriver(service, options);
        driver.manage().timeouts().pageLoadTimeout(Duration.ofSeconds(30)).scriptTimeout(Duration.ofSeconds(10));
    }

    @AfterAll
    static void closeBrowser() throws IOException {
        if (driver != null) {
            driver.quit();
        }
        if (service != null) {
            service.stop();
        }
        if (profile != null) {
            try (var files = Files.walk(profile)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /** The port the status page is served on: the hub's admin listener (never the agents' port). */
    static int statusPort(Hub hub) {
        return hub.adminPort();
    }

    @Test
    void threeAgentsTwoConnectorsTrafficAndPlot(Harness harness) throws Exception {
        int echo = harness.echo().port();
        // one plot point a second (NC_HUB_STATUS_SAMPLE_SEC), so the plots fill within the test
        Hub hub = harness.hub().env(Map.of("NC_HUB_ADMIN_PORT", "0", "NC_HUB_STATUS_SAMPLE_SEC", "1")).connectors("postgres", "ldap", "legacy-crm")
                .start();
        agent(harness, hub, "premise-01", Duration.ofDays(30), "postgres", "ldap");
        agent(harness, hub, "premise-02", Duration.ofDays(30), "postgres");
        agent(harness, hub, "premise-03", Duration.ofHours(20), "ldap");
        Harness.await(WAIT, () -> hub.agentCount() == 3, "three agents ready");

        driver.get("http://127.0.0.1:" + statusPort(hub) + "/status");
        assertEquals("NowConnect hub", fresh(() -> text(By.cssSelector("header h1"))));
        assertEquals("3", fresh(() -> text(By.id("agents-total"))));
        // the script's first refresh may replace the rows while they are read: a stale element is looked up again
        assertEquals("down", fresh(() -> row("legacy-crm").getAttribute("class")));
        assertEquals("no agent", fresh(() -> row("legacy-crm").findElement(By.cssSelector(".badge")).getText()));
        assertEquals("2", fresh(() -> row("postgres").findElement(By.cssSelector(".agents")).getText()));
        assertEquals("served", fresh(() -> row("ldap").findElement(By.cssSelector(".badge")).getText()));
        assertEquals("2 / 3", fresh(() -> text(By.id("served"))));
        assertEquals("premise-01,premise-02,premise-03", fresh(() -> String.join(",", driver.findElements(
                By.cssSelector("#agents tbody tr")).stream().map(r -> r.getAttribute("data-agent")).toList())));
        assertEquals("token warn", fresh(() -> agentRow("premise-03").findElement(By.cssSelector(".token"))
                .getAttribute("class")));
        assertEquals("token ", fresh(() -> agentRow("premise-01").findElement(By.cssSelector(".token"))
                .getAttribute("class")));
        // the script takes over: its first refresh replaces the server's "reload to refresh"
        await(() -> text(By.id("updated")).startsWith("updated "), "the script's first refresh");

        // traffic: one client stays open (an active stream), the others come and go in bursts while the plot fills
        try (Socket held = Harness.client(hub.listenerPorts().get("postgres"));
             Socket ldapClient = Harness.client(hub.listenerPorts().get("ldap"))) {
            echo(held, 64 * 1024);
            await(() -> "1".equals(row("postgres").findElement(By.cssSelector(".streams")).getText()),
                  "an active postgres stream on the page");
            await(() -> !"0 B".equals(row("postgres").findElement(By.cssSelector(".bytes")).getText()),
                  "postgres bytes carried on the page");
            // refusals and auth failures: a client of the connector without an agent, an agent with a bad token
            try (Socket refused = Harness.client(hub.listenerPorts().get("legacy-crm"))) {
                assertEquals(-1, refused.getInputStream().read());
            }
            assertEquals(401, RawAgent.upgradeStatus(hub.port(), "Bearer not-a-token"));
            await(() -> "1".equals(row("legacy-crm").findElement(By.cssSelector(".refused")).getText()),
                  "the refused client of legacy-crm");
            await(() -> text(By.id("reasons")).contains("auth failure"), "the auth failure");
            assertTrue(fresh(() -> text(By.id("reasons"))).contains("no_agent_for_connector"));
            int[] round = {0};
            // one point per second: each look at the page sends another burst, until the plots hold a stretch of them
            await(() -> {
                try {
                    round[0]++;
                    echo(held, 16 * 1024 * (1 + round[0] % 7));
                    echo(ldapClient, 8 * 1024 * (1 + round[0] % 3));
                } catch (IOException e) {
                    throw new AssertionError(e);
                }
                return plotted("postgres", 30) && plotted("ldap", 30) && !rate("postgres").startsWith("0 B");
            }, "plots with at least two points and a postgres rate");
            assertTrue(row("postgres").findElement(By.cssSelector(".agents")).getText().equals("2"));
            await(() -> agentBytes("premise-01") + agentBytes("premise-02") > 0, "bytes per agent");
            Files.createDirectories(SCREENSHOT.getParent());
            Files.write(SCREENSHOT, ((TakesScreenshot) driver).getScreenshotAs(OutputType.BYTES));
        }
        assertTrue(Files.size(SCREENSHOT) > 10_000, "screenshot " + SCREENSHOT.toAbsolutePath());
        // the held streams ended: the page says so at its next refresh
        await(() -> "0".equals(row("postgres").findElement(By.cssSelector(".streams")).getText()), "streams closed");
    }

    @Test
    void hostileAgentIdIsShownAsText(Harness harness) throws Exception {
        Hub hub = harness.hub().env(Map.of("NC_HUB_ADMIN_PORT", "0")).connectors("postgres").start();
        String hostile = "<img src=x onerror=\"window.pwned=1\"><script>window.pwned=2</script>&amp;'\"";
        String token = io.nowconnect.hub.auth.TokenMinter.mintHs256(
                io.nowconnect.hub.auth.TokenMinter.readSecret(harness.secret()), hostile, Duration.ofHours(2), "nowconnect",
                java.util.List.of("postgres"), java.util.Optional.empty());
        try (RawAgent raw = RawAgent.connect(hub.port(), token)) {
            raw.send("{\"t\":\"HELLO\",\"agent_id\":" + new com.fasterxml.jackson.databind.ObjectMapper()
                    .writeValueAsString(hostile) + ",\"connectors\":[\"postgres\"],\"ver\":\"1.5\",\"caps\":[\"drain\"]}");
            raw.nextFrame("HELLO_ACK");
            Harness.await(WAIT, () -> hub.agentCount() == 1, "the hostile agent ready");
            driver.get("http://127.0.0.1:" + statusPort(hub) + "/status");
            // as the server rendered it (the script may replace the rows meanwhile: an element gone stale is looked up
            // again, in the rows the script rendered)
            assertEquals(hostile, fresh(() -> driver.findElement(By.cssSelector("#agents tbody tr td.name")).getText()));
            assertEquals(hostile, fresh(() -> driver.findElement(By.cssSelector("#agents tbody tr"))
                    .getAttribute("data-agent")));
            // and as the script rendered it from /status.json
            await(() -> text(By.id("updated")).startsWith("updated "), "the script's first refresh");
            assertEquals(hostile, fresh(() -> driver.findElement(By.cssSelector("#agents tbody tr td.name")).getText()));
            assertTrue(driver.findElements(By.cssSelector("#agents img, #agents script")).isEmpty(), "no markup from the id");
            assertNull(((JavascriptExecutor) driver).executeScript("return window.pwned;"));
        }
    }

    @Test
    void agentPageRendersInTheBrowser(Harness harness) throws Exception {
        Hub hub = harness.hub().env(Map.of("NC_HUB_ADMIN_PORT", "0", "NC_HUB_REPLICA_ID", "hub-0")).connectors("postgres", "ldap").start();
        io.nowconnect.Agent agent = harness.agent(hub.port()).target("postgres", harness.echo().port())
                .target("ldap", harness.echo().port())
                .env(Map.of("NC_HTTP_HOST", "127.0.0.1", "NC_HTTP_PORT", "0",
                            "NC_TOKEN_FILE", harness.tokenFile(Harness.AGENT_ID, Duration.ofHours(20)).toString()))
                .start();
        Harness.awaitReady(agent, WAIT);
        driver.get("http://127.0.0.1:" + agent.httpPort() + "/status");
        assertEquals(Harness.AGENT_ID, text(By.id("agent-id")));
        assertEquals("ready", text(By.id("state")));
        assertEquals("big warn", driver.findElement(By.id("token")).getAttribute("class"));
        assertEquals("hub-0", text(By.cssSelector("#replicas tr[data-replica='hub-0'] td.name")));
        assertEquals(2, driver.findElements(By.cssSelector("#connectors tbody tr")).size());
        // the stylesheet applied (served by the agent itself): the header is dark
        assertEquals("rgba(15, 23, 42, 1)", driver.findElement(By.tagName("header")).getCssValue("background-color"));
        Files.createDirectories(SCREENSHOT.getParent());
        Files.write(SCREENSHOT.resolveSibling("agent-status-page.png"),
                    ((TakesScreenshot) driver).getScreenshotAs(OutputType.BYTES));
    }

    private static void agent(Harness harness, Hub hub, String id, Duration ttl, String... connectors) throws IOException {
        Harness.AgentBuilder b = harness.agent(hub.port());
        for (String c : connectors) {
            b.target(c, harness.echo().port());
        }
        b.env(Map.of("NC_AGENT_ID", id, "NC_TOKEN_FILE", harness.tokenFile(id, ttl).toString())).start();
    }

    private static void echo(Socket s, int n) throws IOException {
        byte[] data = new byte[n];
        java.util.Arrays.fill(data, (byte) 'x');
        OutputStream out = s.getOutputStream();
        out.write(data);
        out.flush();
        InputStream in = s.getInputStream();
        int got = 0;
        byte[] buf = new byte[16384];
        while (got < n) {
            int r = in.read(buf, 0, Math.min(buf.length, n - got));
            if (r < 0) {
                throw new IOException("echo ended after " + got + " of " + n + " bytes");
            }
            got += r;
        }
    }

    /** The connector's plot line has at least {@code min} points, not all on the floor. */
    private static boolean plotted(String connector, int min) {
        String d = row(connector).findElement(By.cssSelector("svg.plot path.line")).getAttribute("d");
        if (d == null || d.isEmpty()) {
            return false;
        }
        String[] points = d.replace("M", "").split(" L");
        boolean up = false;
        for (String p : points) {
            up |= Double.parseDouble(p.split(",")[1]) < StatusHtml.PLOT_H - 3;
        }
        return points.length >= min && up;
    }

    private static String rate(String connector) {
        return row(connector).findElement(By.cssSelector(".rate")).getText();
    }

    private static long agentBytes(String id) {
        String t = agentRow(id).findElement(By.cssSelector(".bytes")).getText();
        return t.startsWith("0 ") ? 0 : 1;
    }

    private static WebElement row(String connector) {
        return driver.findElement(By.cssSelector("#connectors tr[data-connector='" + connector + "']"));
    }

    private static WebElement agentRow(String id) {
        return driver.findElement(By.cssSelector("#agents tr[data-agent='" + id + "']"));
    }

    private static String text(By by) {
        return driver.findElement(By.tagName("body")).findElement(by).getText();
    }

    /**
     * Wait for a condition on the page, looking every 250 ms (each look is a round trip to the browser); elements
     * replaced by a refresh meanwhile are looked up again.
     */
    private static void await(Supplier<Boolean> condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (true) {
            try {
                if (condition.get()) {
                    return;
                }
            } catch (org.openqa.selenium.StaleElementReferenceException | org.openqa.selenium.NoSuchElementException e) {
                // replaced by a refresh: look again
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after " + WAIT.toSeconds() + " s waiting for: " + what);
            }
            Thread.sleep(250);
        }
    }

    /** A value read from the page, read again when the page replaced its element meanwhile (at most 5 times). */
    private static String fresh(java.util.function.Supplier<String> read) {
        for (int i = 0; ; i++) {
            try {
                return read.get();
            } catch (org.openqa.selenium.StaleElementReferenceException e) {
                if (i == 4) {
                    throw e;
                }
            }
        }
    }
}
