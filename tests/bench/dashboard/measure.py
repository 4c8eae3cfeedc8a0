#!/usr/bin/env python3
"""Times the dashboard's pages in headless Chromium: from the navigation to
the page drawn with its data (the app sets document.body.dataset.page to
"ready" and readyMs to performance.now() then), once with an empty cache and
N times cached, plus the JSON call behind each page (urllib, median of N).

    measure.py --url URL --plan ID --job ID [--runs 5]
"""
import argparse
import json
import statistics
import sys
import tempfile
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait


def browser(width, height):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run",
                 "--user-data-dir=" + tempfile.mkdtemp(prefix="dash-bench-"),
                 "--window-size=%d,%d" % (width, height)):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def page_seconds(driver, url, check, runs):
    """(cold, warm median, warm slowest): from the navigation to the page
    drawn, as the page measures it (performance.now() when it became ready).
    Cold: with the browser's cache emptied first; warm: the next `runs`
    loads, as a user moving between pages has them."""
    def load():
        driver.get("about:blank")
        driver.get(url)
        WebDriverWait(driver, 60, poll_frequency=0.02).until(
            lambda d: d.execute_script("return document.body.dataset.page === 'ready'"))
        problem = driver.execute_script(check) if check else None
        if problem:
            sys.exit("%s: %s" % (url, problem))
        return float(driver.execute_script("return document.body.dataset.readyMs")) / 1000

    driver.execute_cdp_cmd("Network.clearBrowserCache", {})
    cold = load()
    warm = [load() for _ in range(runs)]
    return cold, statistics.median(warm), max(warm)


def api_seconds(url, runs):
    times, size = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        with urllib.request.urlopen(url, timeout=120) as response:
            size = len(response.read())
        times.append(time.perf_counter() - start)
    return statistics.median(times), size


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--plan", required=True)
    parser.add_argument("--job", required=True)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    u = args.url.rstrip("/")
    pages = [
        ("overview", "/", "/api/overview", None),
        ("nodes (1,000 of cluster big)", "/nodes?cluster=big",
         "/api/nodes?cluster=big&pageSize=1000",
         "var n = document.querySelectorAll('#node-table tbody tr').length;"
         "return n === 1000 ? null : n + ' rows, expected 1000';"),
        ("plans (first page of 1,000)", "/plans", "/api/plans", None),
        ("plan", "/plans/" + args.plan, "/api/plans/" + args.plan, None),
        ("job (100,000 steps)", "/jobs/" + args.job, "/api/jobs/%s/metrics?maxPoints=500" % args.job,
         "var c = document.querySelector('#job-loss-chart');"
         "return c && Chart.getChart(c) && Chart.getChart(c).data.datasets[0].data.length > 0"
         " ? null : 'no loss chart';"),
        ("cluster", "/clusters/bench", "/api/clusters/bench", None),
    ]
    driver = browser(1280, 900)
    print("| page | drawn, cache empty | drawn, cached (median of %d) | slowest cached | API call (median) | API bytes |" % args.runs)
    print("|---|---|---|---|---|---|")
    try:
        for name, path, api, check in pages:
            api_time, size = api_seconds(u + api, args.runs)
            cold, median, slowest = page_seconds(driver, u + path, check, args.runs)
            print("| %s | %.0f ms | %.0f ms | %.0f ms | %.0f ms | %s |" % (
                name, cold * 1000, median * 1000, slowest * 1000, api_time * 1000,
                format(size, ",")))
            sys.stdout.flush()
        errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
        if errors:
            sys.exit("console errors: " + json.dumps(errors))
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
