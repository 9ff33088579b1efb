"""The raw-WebDriver baseline: the commands shopwatch sends, sent with plain HTTP.

    raw_webdriver.py record BROWSER LOG -- SHOPWATCH ARGS...
        Starts the driver and a logging proxy in front of it, runs `SHOPWATCH ARGS...
        --webdriver PROXY`, and writes every command (method, path, body, answer, when) and
        shopwatch's JSON report to LOG.
    raw_webdriver.py replay LOG BROWSER BASE_URL
        Starts the driver itself (as shopwatch does) and sends the recorded commands again with
        http.client, nothing else between them: element ids, window handles and the session id are
        mapped to the new session's, shopwatch's poll sleeps (gaps of 100 ms or more) are slept
        again, a command whose answer is not yet what shopwatch saw is sent again every 100 ms
        (a divergence). Then the test order is cancelled over HTTP as the journey does.
        Prints one JSON object like the peer scripts: session_start_ms, steps, ok.
    raw_webdriver.py attribute LOG
        Where the recorded run's time went, per step: in the driver, in poll sleeps, and in
        shopwatch between commands (plus the proxy's hop); and the driver's time by command.
    raw_webdriver.py hop BROWSER
        What the proxy itself adds to one command.
"""

import http.client
import http.server
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from datetime import datetime

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"
SHADOW = "shadow-6066-11e4-a52e-4f735466cecf"
POLL = 0.1
TIMEOUT = 15.0
ADMIN_TOKEN = os.environ.get("DEMO_SHOP_ADMIN_TOKEN", "demo-admin-token")


# --- drivers ---------------------------------------------------------------------------------


class Driver:
    """chromedriver or geckodriver from PATH on a port it picks, in its own process group and
    TMPDIR; ended as shopwatch ends it (SIGTERM, then SIGKILL of the group)."""

    def __init__(self, browser):
        self.tmp = tempfile.mkdtemp(prefix="peers-raw-")
        env = dict(os.environ, TMPDIR=self.tmp)
        if browser == "firefox":
            cmd = [shutil.which("geckodriver"), "--port", "0", "--log", "info"]
            pattern = re.compile(rb"Listening on [0-9.]+:(\d+)")
        else:
            cmd = [shutil.which("chromedriver"), "--port=0"]
            pattern = re.compile(rb"started successfully on port (\d+)")
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        deadline = time.monotonic() + 20
        port = None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            m = pattern.search(line)
            if m:
                port = int(m.group(1))
                break
        if port is None:
            self.stop()
            raise RuntimeError(f"{cmd[0]} printed no port")
        # Keep reading its output so that it never blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()
        self.url = f"http://127.0.0.1:{port}"
        self.port = port

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


class Conn:
    """One keep-alive HTTP connection to a driver."""

    def __init__(self, port):
        self.port = port
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def send(self, method, path, body):
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json; charset=utf-8"} if data is not None else {}
        for attempt in range(2):
            try:
                self.c.request(method, path, body=data, headers=headers)
                r = self.c.getresponse()
                raw = r.read()
                break
            except (http.client.HTTPException, ConnectionError):
                if attempt:
                    raise
                self.c.close()
                self.c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            value = json.loads(raw) if raw else None
        except ValueError:
            value = raw.decode(errors="replace")
        return r.status, value


# --- record ----------------------------------------------------------------------------------


def start_proxy(driver):
    """A logging proxy in front of `driver`: (server, its URL, the list it logs into)."""
    entries = []
    lock = threading.Lock()
    local = threading.local()

    class Proxy(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Small answers written in two parts would otherwise wait for a delayed ACK (40 ms).
        disable_nagle_algorithm = True

        def log_message(self, *args):
            pass

        def handle_one(self):
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n) if n else b""
            body = json.loads(raw) if raw else None
            if not hasattr(local, "conn"):
                local.conn = Conn(driver.port)
            sent = time.time()
            status, value = local.conn.send(self.command, self.path, body if raw else None)
            answered = time.time()
            with lock:
                entries.append(
                    {
                        "sent": sent,
                        "answered": answered,
                        "method": self.command,
                        "path": self.path,
                        "body": body,
                        "status": status,
                        "value": value,
                    }
                )
            out = json.dumps(value).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        do_GET = do_POST = do_DELETE = handle_one

    class Server(http.server.ThreadingHTTPServer):
        def handle_error(self, request, client_address):
            pass  # shopwatch closing a keep-alive connection is no error

    server = Server(("127.0.0.1", 0), Proxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}", entries


def record(browser, log_path, command):
    driver = Driver(browser)
    server, url, entries = start_proxy(driver)
    try:
        run = subprocess.run(command + ["--webdriver", url], capture_output=True, text=True)
    finally:
        server.shutdown()
        driver.stop()
    reports = [json.loads(l) for l in run.stdout.splitlines() if l.startswith("{")]
    with open(log_path, "w") as f:
        json.dump({"browser": browser, "report": reports[-1] if reports else None,
                   "exit": run.returncode, "entries": entries}, f)
    if run.returncode != 0:
        sys.stderr.write(run.stderr[-3000:])
    return run.returncode


def hop(browser, n=300):
    """What the proxy itself adds to one command: Get Current URL sent directly and through it."""
    driver = Driver(browser)
    server, url, _ = start_proxy(driver)
    try:
        conn = Conn(driver.port)
        if browser == "firefox":
            caps = {"browserName": "firefox", "moz:firefoxOptions": {"args": ["-headless"]}}
        else:
            caps = {"browserName": "chrome", "goog:chromeOptions": {"args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--user-data-dir={driver.tmp}/profile"]}}
        status, value = conn.send("POST", "/session", {"capabilities": {"alwaysMatch": caps}})
        session = value["value"]["sessionId"]
        via = Conn(server.server_address[1])
        times = {"direct": [], "proxy": []}
        for i in range(n):
            for name, c in (("direct", conn), ("proxy", via)):
                t = time.perf_counter()
                c.send("GET", f"/session/{session}/url", None)
                times[name].append((time.perf_counter() - t) * 1000)
        conn.send("DELETE", f"/session/{session}", None)
    finally:
        server.shutdown()
        driver.stop()
    import statistics

    d, p = statistics.median(times["direct"]), statistics.median(times["proxy"])
    print(f"{browser}: Get Current URL {d:.2f} ms direct, {p:.2f} ms through the proxy: "
          f"the proxy adds {p - d:.2f} ms a command (medians of {n})")
    return 0


# --- step boundaries -------------------------------------------------------------------------


def buckets(log):
    """Assigns each recorded command to `session`, a step name, or `end`, from the report's
    start time, session start and step durations."""
    report = log["report"]
    start = datetime.fromisoformat(report["started_at"].replace("Z", "+00:00")).timestamp()
    bounds = []
    t = start + (report.get("session_start_ms") or 0) / 1000
    for step in report["steps"]:
        ms = step.get("duration_ms") or 0
        bounds.append((step.get("step") or step["name"], t, t + ms / 1000))
        t += ms / 1000
    # The report's clock has millisecond resolution and steps have small gaps between them:
    # a command belongs to the last step that had started when it was sent.
    out = []
    for e in log["entries"]:
        if e["method"] == "DELETE" and re.fullmatch(r"/session/[^/]+", e["path"]):
            out.append("end")
            continue
        name = "session"
        for step, b0, _ in bounds:
            if e["sent"] >= b0 - 0.0005:
                name = step
        out.append(name)
    return out, [b[0] for b in bounds]


# --- replay ----------------------------------------------------------------------------------


def norm(v):
    if isinstance(v, str):
        return re.sub(r"[0-9a-fA-F]{8,}|\d{4,}", "N", v)  # tokens, ports, order numbers
    return v


def same_answer(rec_status, rec_value, status, value, path):
    ok_rec, ok_now = rec_status < 300, status < 300
    if ok_rec != ok_now:
        # A window that shopwatch still saw (the 3-D Secure popup) has already closed: shopwatch
        # passes over that error in its page checks, so does the replay.
        gone = isinstance(value, dict) and isinstance(value.get("value"), dict) and \
            value["value"].get("error") == "no such window"
        return ok_now or gone  # or it already succeeds where shopwatch still waited: go on
    if not ok_now:
        return True
    rv = rec_value.get("value") if isinstance(rec_value, dict) else None
    nv = value.get("value") if isinstance(value, dict) else None
    if path.endswith("/execute/sync") or path.endswith("/execute/async"):
        return True
    if re.search(r"/window(/new)?$", path):
        return True  # a handle: mapped, never the same
    # The first page before any navigation differs with the profile (data:, or a new tab).
    if path.endswith("/url") and isinstance(rv, str) and not rv.startswith("http"):
        return True
    if rv is None:
        return True  # nothing to compare (a null answer)
    if isinstance(rv, list) and isinstance(nv, list):
        return len(rv) == len(nv)
    if isinstance(rv, (str, bool, int, float)) or rv is None:
        return norm(rv) == norm(nv)
    return True


def learn(ids, rec, now):
    """Maps element references and window handles in a recorded answer to the new ones."""
    if isinstance(rec, dict) and isinstance(now, dict):
        for key in (ELEMENT, SHADOW):
            if key in rec and key in now:
                ids[rec[key]] = now[key]
        for k in rec:
            if k in now:
                learn(ids, rec[k], now[k])
    elif isinstance(rec, list) and isinstance(now, list):
        for a, b in zip(rec, now):
            learn(ids, a, b)


def learn_handles(ids, rec, now):
    """Window handles: strings in the answers of Get Window Handle(s) and New Window."""
    rv = rec.get("value") if isinstance(rec, dict) else None
    nv = now.get("value") if isinstance(now, dict) else None
    if isinstance(rv, dict) and isinstance(nv, dict):
        rv, nv = rv.get("handle"), nv.get("handle")
    if isinstance(rv, str) and isinstance(nv, str):
        ids[rv] = nv
    elif isinstance(rv, list) and isinstance(nv, list):
        for a, b in zip(rv, nv):
            if isinstance(a, str) and isinstance(b, str):
                ids.setdefault(a, b)


def subst(ids, v):
    if isinstance(v, str):
        return ids.get(v, v)
    if isinstance(v, list):
        return [subst(ids, x) for x in v]
    if isinstance(v, dict):
        return {k: subst(ids, x) for k, x in v.items()}
    return v


def local_capabilities(body, browser, profile):
    """What shopwatch adds for a driver it starts itself: the binary and a fresh profile."""
    body = json.loads(json.dumps(body))
    caps = body.get("capabilities", {}).get("alwaysMatch", {})
    if browser == "firefox":
        opts = caps.setdefault("moz:firefoxOptions", {})
        opts["binary"] = shutil.which("firefox") or shutil.which("firefox-esr")
    else:
        opts = caps.setdefault("goog:chromeOptions", {})
        opts["binary"] = os.environ.get("PEERS_CHROMIUM", "/usr/bin/chromium")
        opts.setdefault("args", []).append(f"--user-data-dir={profile}")
    return body


def replay(log_path, browser, base):
    with open(log_path) as f:
        log = json.load(f)
    names, steps = buckets(log)
    entries = log["entries"]
    out = {"tool": "raw", "browser": browser, "steps": [], "ok": True, "divergences": 0}
    t0 = time.perf_counter()
    driver = Driver(browser)
    spawned = time.perf_counter() - t0
    conn = Conn(driver.port)
    profile = tempfile.mkdtemp(prefix="peers-raw-profile-", dir=driver.tmp)
    ids = {}
    spent = {}
    order = None
    session = None
    try:
        prev_answered = None
        for i, (e, bucket) in enumerate(zip(entries, names)):
            if prev_answered is not None:
                gap = e["sent"] - prev_answered
                n = int((gap + 0.02) / POLL)
                if n:
                    s = time.perf_counter()
                    time.sleep(n * POLL)
                    spent[bucket] = spent.get(bucket, 0) + time.perf_counter() - s
            prev_answered = e["answered"]
            s = time.perf_counter()
            body = e["body"]
            if e["method"] == "POST" and e["path"] == "/session":
                body = local_capabilities(body, browser, profile)
            path = "/".join(ids.get(p, p) for p in e["path"].split("/"))
            body = subst(ids, body)
            if e["method"] == "POST" and e["path"].endswith("/url") and isinstance(body, dict):
                # The recording's shop may have listened elsewhere: open the same page here.
                u = urllib.parse.urlsplit(body.get("url", ""))
                b = urllib.parse.urlsplit(base)
                if u.scheme.startswith("http") and u.netloc != b.netloc and u.hostname == b.hostname:
                    body = dict(body, url=urllib.parse.urlunsplit(u._replace(netloc=b.netloc)))
            status, value = conn.send(e["method"], path, body)
            deadline = time.monotonic() + TIMEOUT
            diverged = False
            # A later look of the same poll that shopwatch saw answer this: already there.
            later = [x for x in entries[i + 1:i + 40]
                     if x["method"] == e["method"] and x["path"] == e["path"]]
            while not any(same_answer(x["status"], x["value"], status, value, e["path"])
                          for x in [e] + later):
                if time.monotonic() > deadline:
                    out["ok"] = False
                    out["error"] = f"{e['method']} {e['path']}: answered {status} {str(value)[:200]}"
                    break
                if not diverged and os.environ.get("PEERS_DEBUG"):
                    sys.stderr.write(f"diverged: {e['method']} {e['path']} recorded {e['status']} "
                                     f"{str(e['value'])[:120]}, now {status} {str(value)[:120]}\n")
                diverged = True
                time.sleep(POLL)
                status, value = conn.send(e["method"], path, body)
            out["divergences"] += diverged
            if e["method"] == "POST" and e["path"] == "/session" and status < 300:
                session = value["value"]["sessionId"]
                ids[e["value"]["value"]["sessionId"]] = session
            else:
                learn(ids, e["value"], value)
                if re.search(r"/window(/handles|/new)?$", e["path"]) and e["method"] != "DELETE":
                    learn_handles(ids, e["value"], value)
            rv = e["value"].get("value") if isinstance(e["value"], dict) else None
            if isinstance(rv, str) and re.fullmatch(r"\s*SW-[0-9]{6}\s*", rv):
                order = value.get("value", "").strip()
            spent[bucket] = spent.get(bucket, 0) + time.perf_counter() - s
            if not out["ok"]:
                break
        # The journey's last step: cancel the test order over HTTP.
        s = time.perf_counter()
        if order:
            req = urllib.request.Request(
                f"{base}/api/orders/{order}/cancel",
                method="POST",
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            )
            with urllib.request.urlopen(req, timeout=15) as r:
                if r.status != 200:
                    out["ok"] = False
        elif out["ok"]:
            out["ok"] = False
            out["error"] = "no order number seen"
        last = steps[-1] if steps else "cancel-test-order"
        spent[last] = spent.get(last, 0) + time.perf_counter() - s
    finally:
        if session and not any(n == "end" for n in names):
            try:
                conn.send("DELETE", f"/session/{session}", None)
            except Exception:
                pass
        driver.stop()
    # Session start as the others count it: starting the driver, then the commands before the
    # first step (new session, timeouts, window size).
    out["session_start_ms"] = (spawned + spent.get("session", 0)) * 1000
    out["steps"] = [{"step": s, "duration_ms": spent.get(s, 0) * 1000} for s in steps]
    out["end_ms"] = spent.get("end", 0) * 1000
    out["total_ms"] = (time.perf_counter() - t0) * 1000
    print(json.dumps(out), flush=True)
    return 0 if out["ok"] else 1


# --- attribution -----------------------------------------------------------------------------


def attribute(log_path):
    with open(log_path) as f:
        log = json.load(f)
    names, steps = buckets(log)
    entries = log["entries"]
    rows = {}
    prev = None
    for e, b in zip(entries, names):
        r = rows.setdefault(b, {"commands": 0, "driver_ms": 0.0, "sleep_ms": 0.0, "gaps_ms": 0.0})
        r["commands"] += 1
        r["driver_ms"] += (e["answered"] - e["sent"]) * 1000
        if prev is not None:
            gap = (e["sent"] - prev) * 1000
            n = int((gap / 1000 + 0.02) / POLL)
            r["sleep_ms"] += n * POLL * 1000
            r["gaps_ms"] += gap - n * POLL * 1000
        prev = e["answered"]
    report = log["report"] or {}
    durations = {s.get("step") or s["name"]: s.get("duration_ms") for s in report.get("steps", [])}
    print(f"{'bucket':<20}{'cmds':>6}{'reported':>10}{'driver':>10}{'sleeps':>10}{'between':>10}")
    for b in ["session"] + steps + ["end"]:
        r = rows.get(b)
        if not r:
            continue
        rep = report.get("session_start_ms") if b == "session" else durations.get(b)
        rep = f"{rep:.0f}" if rep is not None else "-"
        print(f"{b:<20}{r['commands']:>6}{rep:>10}{r['driver_ms']:>10.0f}{r['sleep_ms']:>10.0f}{r['gaps_ms']:>10.1f}")
    kinds = {}
    for e in entries:
        key = e["method"] + " " + re.sub(r"/session/[^/]+", "", re.sub(r"/element/[^/]+", "/element/ID", e["path"]))
        kinds.setdefault(key.strip(), []).append((e["answered"] - e["sent"]) * 1000)
    print("driver time by command: " + ", ".join(
        f"{k} {len(v)}x {sum(v):.0f} ms" for k, v in sorted(kinds.items(), key=lambda kv: -sum(kv[1]))))
    return 0


def main():
    args = sys.argv[1:]
    if args[:1] == ["record"]:
        browser, log_path = args[1], args[2]
        command = args[args.index("--") + 1:]
        return record(browser, log_path, command)
    if args[:1] == ["replay"]:
        return replay(args[1], args[2], args[3])
    if args[:1] == ["hop"]:
        return hop(args[1])
    if args[:1] == ["attribute"]:
        return attribute(args[1])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
