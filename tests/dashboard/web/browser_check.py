#!/usr/bin/env python3
"""The dashboard in a real browser: Debian's Chromium driven by Selenium.

Run by tests/dashboard/web/browser_test.cc against a live planner it seeded
(a hardware profile, a compute profile, a plan, a running job) and a
galvatron-dashboard in front of it. Two modes:

  pages (default): every page at 1280x900 and at a phone's 375x800 loads with
    no console errors and no error box; at 375 px nothing overflows sideways;
    the plan page's strip has a block per layer and its charts are drawn; the
    job page updates while the job runs without reloading; its charts are
    drawn.

  --login TOKEN: a dashboard on HTTPS with a token file. A page sends the
    browser to /login; a wrong token shows an error; the right one lands on
    the page asked for, with an HttpOnly, Secure session cookie.

One line per check (PASS/FAIL); exit 0 only when every check held, 1 when
one failed, 2 when the browser could not be started.

  browser_check.py --url URL --plan ID --job ID --cluster NAME --model NAME
                   [--nodes N] [--screenshots DIR]
  browser_check.py --url URL --login TOKEN [--wrong-token TOKEN] [--ca FILE]
                   [--screenshots DIR]
"""

import argparse
import base64
import http.client
import json
import os
import re
import shutil
import ssl
import sys
import tempfile
import time
import traceback
import urllib.parse
import urllib.request

try:
    from selenium import webdriver
    from selenium.common.exceptions import TimeoutException, WebDriverException
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError as e:  # pragma: no cover - reported, not raised
    print(f'FAIL setup: python3-selenium is missing ({e}); run scripts/install-deps.sh')
    sys.exit(2)

DESKTOP = ('desktop', 1280, 900, False)
PHONE = ('phone', 375, 800, True)

# ------------------------------------------------------------------ results


class Results:
    def __init__(self):
        self.failed = []
        self.passed = 0
        self.start = time.monotonic()

    def check(self, name, ok, detail=''):
        line = f'{"PASS" if ok else "FAIL"} {name}' + (f': {detail}' if detail else '')
        print(line, flush=True)
        if ok:
            self.passed += 1
        else:
            self.failed.append(line)
        return ok

    def note(self, text):
        print(f'  .. {text}', flush=True)

    def summary(self):
        took = time.monotonic() - self.start
        print(f'{self.passed} check(s) passed, {len(self.failed)} failed, {took:.1f} s', flush=True)
        for line in self.failed:
            print('  ' + line, flush=True)
        return 0 if not self.failed else 1


# ------------------------------------------------------------------ browser


def make_driver(args, profile_dir):
    options = Options()
    options.binary_location = args.chromium
    for flag in ('--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
                 '--disable-background-networking', '--disable-component-update', '--disable-sync',
                 '--disable-extensions', '--disable-default-apps', '--no-first-run',
                 '--no-default-browser-check', '--hide-scrollbars', '--mute-audio',
                 '--window-size=1280,900', '--lang=en-US', f'--user-data-dir={profile_dir}'):
        options.add_argument(flag)
    options.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
    if args.insecure:
        # The dashboard's certificate comes from a CA made for the test.
        options.set_capability('acceptInsecureCerts', True)
    service = Service(args.chromedriver, log_path=os.path.join(profile_dir, 'chromedriver.log'))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(args.timeout + 10)
    driver.set_script_timeout(args.timeout + 10)
    return driver


def set_viewport(driver, size):
    _, width, height, mobile = size
    driver.execute_cdp_cmd('Emulation.setDeviceMetricsOverride', {
        'width': width, 'height': height, 'deviceScaleFactor': 2 if mobile else 1,
        'mobile': mobile, 'screenWidth': width, 'screenHeight': height})
    driver.execute_cdp_cmd('Emulation.setTouchEmulationEnabled', {'enabled': mobile})


def console_errors(driver, ignore=(), results=None):
    """SEVERE console entries since the last call (the buffer empties); those
    matching a pattern of `ignore` are left out (and noted)."""
    errors = []
    for entry in driver.get_log('browser'):
        if entry.get('level') != 'SEVERE':
            continue
        message = entry.get('message', '')
        if any(re.search(pattern, message) for pattern in ignore):
            if results is not None:
                results.note(f'expected console error: {message}')
            continue
        errors.append(message)
    return errors


# The page is drawn: its title is set, no "Loading…" placeholder and no busy
# list remain, the key element (if any) exists. 'error' as soon as the error
# box shows something.
READY_JS = r'''
const key = arguments[0];
const err = document.getElementById('error');
if (err && !err.hidden && err.textContent.trim() && getComputedStyle(err).display !== 'none')
  return 'error: ' + err.textContent.trim();
if (document.readyState !== 'complete') return '';
const t = document.getElementById('page-title');
if (!t) return '';
const title = t.textContent.trim();
if (!title || /^Loading/i.test(title)) return '';
const main = document.getElementById('main');
if (main && main.querySelector('.loading')) return '';
if (document.querySelector('.busy')) return '';
if (key && !document.querySelector(key)) return '';
return 'ready';
'''

# How much of a canvas is drawn: pixels not transparent, and of those the
# coloured ones (the data: text, axes and grid lines are grey).
CANVAS_JS = r'''
const c = typeof arguments[0] === 'string' ? document.querySelector(arguments[0]) : arguments[0];
if (!c || c.tagName !== 'CANVAS') return null;
const r = c.getBoundingClientRect();
const out = {w: c.width, h: c.height, cssW: Math.round(r.width), cssH: Math.round(r.height),
             opaque: 0, coloured: 0};
if (!c.width || !c.height) return out;
const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
for (let i = 0; i < d.length; i += 4) {
  const a = d[i + 3];
  if (!a) continue;
  out.opaque++;
  const hi = Math.max(d[i], d[i + 1], d[i + 2]), lo = Math.min(d[i], d[i + 1], d[i + 2]);
  if (a >= 128 && hi - lo >= 60) out.coloured++;
}
return out;
'''

# A checksum of a canvas's pixels, to see it change.
CANVAS_SUM_JS = r'''
const c = document.querySelector(arguments[0]);
if (!c || c.tagName !== 'CANVAS' || !c.width || !c.height) return null;
const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
let h = 0;
for (let i = 0; i < d.length; i++) h = (Math.imul(h, 31) + d[i]) | 0;
return h;
'''

OVERFLOW_JS = r'''
const de = document.documentElement;
const t = document.getElementById('page-title');
const r = t ? t.getBoundingClientRect() : null;
// The widest element that sticks out of the viewport (not inside a box that
// scrolls or clips sideways), to name the culprit.
let worst = null;
const vw = Math.min(arguments[0], window.innerWidth);
for (const el of document.querySelectorAll('body *')) {
  const b = el.getBoundingClientRect();
  if (b.width === 0 || b.right <= vw + 1) continue;
  let p = el.parentElement, clipped = false;
  while (p && p !== document.body) {
    const ox = getComputedStyle(p).overflowX;
    if (ox !== 'visible') { clipped = true; break; }
    p = p.parentElement;
  }
  if (clipped) continue;
  if (!worst || b.right > worst.right)
    worst = {right: Math.round(b.right), tag: el.tagName.toLowerCase(), id: el.id,
             cls: String(el.className || '').slice(0, 60)};
}
return {scrollWidth: Math.max(de.scrollWidth, document.body ? document.body.scrollWidth : 0),
        innerWidth: vw, clientWidth: de.clientWidth,
        title: r ? {left: r.left, right: r.right, width: r.width, height: r.height} : null,
        worst: worst};
'''


def wait_ready(driver, key, timeout):
    """'ready', or what the page showed instead ('error: ...', 'timeout')."""
    state = {'last': ''}

    def ready(d):
        state['last'] = d.execute_script(READY_JS, key) or ''
        return state['last'].startswith('ready') or state['last'].startswith('error')

    try:
        WebDriverWait(driver, timeout, poll_frequency=0.1).until(ready)
    except TimeoutException:
        return 'timeout (title %r, key %s %s)' % (
            driver.execute_script("const t=document.getElementById('page-title');"
                                  "return t ? t.textContent : null;"),
            key or '-',
            'present' if key and driver.execute_script('return !!document.querySelector(arguments[0])',
                                                        key) else 'absent')
    return state['last']


def wait_canvas(driver, selector, timeout, min_coloured=20):
    """(drawn, figures) once the canvas shows coloured pixels, or at the deadline."""
    state = {'info': None}

    def drawn(d):
        state['info'] = d.execute_script(CANVAS_JS, selector)
        info = state['info']
        return bool(info) and info['coloured'] >= min_coloured

    try:
        WebDriverWait(driver, timeout, poll_frequency=0.2).until(drawn)
        return True, state['info']
    except TimeoutException:
        return False, state['info']


def error_box(driver):
    return driver.execute_script(r'''
const e = document.getElementById('error');
if (!e) return {present: false};
return {present: true, hidden: e.hidden || getComputedStyle(e).display === 'none',
        text: e.textContent.trim()};''')


def first_int(text):
    m = re.search(r'\d[\d,]*', text or '')
    return int(m.group(0).replace(',', '')) if m else None


# Where a phone's screenshot starts: the part of the page worth showing.
PHONE_ANCHORS = {'plan': '#plan-strip', 'cluster': '#cluster-bandwidth', 'model': 'canvas'}


def screenshot(driver, args, name, size):
    """The viewport as dashboard-NAME-SIZE.png (on a phone scrolled to the
    page's anchor); with $GALVATRON_SCREENSHOTS_FULL_PAGE=1 the whole page
    as dashboard-NAME-SIZE-full.png too, for reviewing the pages."""
    if not args.screenshots:
        return
    os.makedirs(args.screenshots, exist_ok=True)
    base = os.path.join(args.screenshots, f'dashboard-{name}-{size[0]}')
    anchor = PHONE_ANCHORS.get(name) if size is PHONE else None
    if anchor:
        driver.execute_script(
            'const e = document.querySelector(arguments[0]);'
            'if (e) (e.closest("section") || e).scrollIntoView({block: "start"});', anchor)
    with open(base + '.png', 'wb') as f:
        f.write(driver.get_screenshot_as_png())
    if anchor:
        driver.execute_script('window.scrollTo(0, 0);')
    if os.environ.get('GALVATRON_SCREENSHOTS_FULL_PAGE') == '1':
        m = driver.execute_cdp_cmd('Page.getLayoutMetrics', {})
        content = m.get('cssContentSize') or m['contentSize']
        shot = driver.execute_cdp_cmd('Page.captureScreenshot', {
            'format': 'png', 'captureBeyondViewport': True,
            'clip': {'x': 0, 'y': 0, 'width': content['width'], 'height': content['height'], 'scale': 1}})
        with open(base + '-full.png', 'wb') as f:
            f.write(base64.b64decode(shot['data']))


# ------------------------------------------------------------------ JSON API


def api_get(args, path, context=None, token=None):
    request = urllib.request.Request(args.url.rstrip('/') + path, headers={'Accept': 'application/json'})
    if token:
        request.add_header('Authorization', 'Bearer ' + token)
    with urllib.request.urlopen(request, timeout=args.timeout, context=context) as response:
        return json.loads(response.read().decode('utf-8'))


# ------------------------------------------------------------------ pages


def page_list(args, facts):
    """(name, path, key element, extra checks(driver, results, label, size))."""
    enc = urllib.parse.quote
    task = facts.get('train_task') or 'task-unknown'
    return [
        ('overview', '/', None, check_overview),
        ('nodes', '/nodes', '#node-table', check_nodes),
        ('cluster', '/clusters/' + enc(args.cluster), '#cluster-bandwidth', check_cluster),
        ('models', '/models', None, check_models),
        ('model', '/models/' + enc(args.model), None, check_model),
        ('plans', '/plans', None, check_plans),
        ('plan', '/plans/' + enc(args.plan), '#plan-strip', check_plan),
        ('jobs', '/jobs', None, check_jobs),
        ('job', '/jobs/' + enc(args.job), '#steps-done', check_job),
        ('tasks', '/tasks', None, check_tasks),
        ('task', '/tasks/' + enc(task), '#task-nodes', check_task),
        ('whatif', '/whatif', None, check_whatif),
    ]


def has_link(driver, href):
    return driver.execute_script(
        'return Array.from(document.querySelectorAll("#main a[href]"))'
        '.some(a => a.getAttribute("href") === arguments[0]);', href)


def check_overview(driver, r, label, size, args, facts):
    r.check(f'{label}: links to the running job', has_link(driver, '/jobs/' + args.job),
            '/jobs/' + args.job)


def check_nodes(driver, r, label, size, args, facts):
    rows = driver.execute_script(
        'return Array.from(document.querySelectorAll("#node-table tbody tr")).map(tr => tr.textContent);')
    alive = [row for row in rows if re.search(r'alive', row, re.I)]
    r.check(f'{label}: #node-table lists the {args.nodes} alive nodes',
            len(alive) >= args.nodes, f'{len(rows)} row(s), {len(alive)} alive')


def check_cluster(driver, r, label, size, args, facts):
    canvases = driver.find_elements(By.CSS_SELECTOR, '#cluster-bandwidth canvas')
    if not r.check(f'{label}: #cluster-bandwidth has charts', len(canvases) > 0,
                   f'{len(canvases)} canvas(es)'):
        return
    drawn, info = wait_canvas(driver, '#cluster-bandwidth canvas', args.timeout)
    r.check(f'{label}: the first bandwidth chart is drawn', drawn, str(info))


def check_models(driver, r, label, size, args, facts):
    r.check(f'{label}: links to {args.model}', has_link(driver, '/models/' + args.model))


def check_model(driver, r, label, size, args, facts):
    title = driver.find_element(By.ID, 'page-title').text
    r.check(f'{label}: the title names the model', args.model in title, repr(title))


def check_plans(driver, r, label, size, args, facts):
    r.check(f'{label}: links to the plan', has_link(driver, '/plans/' + args.plan))


def check_plan(driver, r, label, size, args, facts):
    layers = facts.get('plan_layers')
    blocks = driver.execute_script(
        'return document.querySelectorAll("#plan-strip [data-layer]").length;')
    r.check(f'{label}: #plan-strip has a block per layer', blocks == layers and blocks > 0,
            f'{blocks} block(s), the plan has {layers} layer(s)')
    for chart in ('#plan-memory-chart', '#plan-time-chart'):
        drawn, info = wait_canvas(driver, chart, args.timeout)
        r.check(f'{label}: {chart} canvas is drawn', drawn, str(info))


def steps_done(driver):
    return first_int(driver.execute_script(
        'const e = document.getElementById("steps-done"); return e ? e.textContent : "";'))


def check_job(driver, r, label, size, args, facts):
    state = driver.execute_script(
        'const e = document.getElementById("job-state"); return e ? e.textContent.trim() : null;')
    r.check(f'{label}: #job-state says running', bool(state) and 'running' in state.lower(), repr(state))
    first = steps_done(driver)
    r.check(f'{label}: #steps-done shows the steps done', first is not None and first > 0, repr(first))
    if size is DESKTOP and first is not None:
        # Live: new steps arrive every ~0.3 s; the page refreshes every 2 s
        # without reloading (a reload would drop this marker).
        driver.execute_script('window.__noReload = 1;'
                              'const c = document.getElementById("job-loss-chart"); if (c) c.__kept = 1;')
        loss_before = driver.execute_script(CANVAS_SUM_JS, '#job-loss-chart')
        later = {'n': first}

        def grew(d):
            n = steps_done(d)
            later['n'] = n if n is not None else later['n']
            return n is not None and n > first

        try:
            WebDriverWait(driver, args.live_timeout, poll_frequency=0.2).until(grew)
            grown = True
        except TimeoutException:
            grown = False
        r.check(f'{label}: #steps-done grows while the job runs', grown,
                f'{first} -> {later["n"]} within {args.live_timeout} s')
        marker = driver.execute_script('return window.__noReload;')
        r.check(f'{label}: the page updated in place (no reload)', marker == 1, f'window.__noReload = {marker!r}')
        # The loss chart took the new steps: the same canvas, other pixels.
        try:
            WebDriverWait(driver, args.live_timeout, poll_frequency=0.2).until(
                lambda d: d.execute_script(CANVAS_SUM_JS, '#job-loss-chart') not in (None, loss_before))
            redrawn = True
        except TimeoutException:
            redrawn = False
        kept = driver.execute_script(
            'const c = document.getElementById("job-loss-chart"); return !!(c && c.__kept);')
        r.check(f'{label}: the loss chart took the new steps on the same canvas', redrawn and kept,
                f'pixels changed: {redrawn}, same canvas: {kept}')
    for chart in ('#job-loss-chart', '#job-throughput-chart'):
        drawn, info = wait_canvas(driver, chart, args.timeout)
        r.check(f'{label}: {chart} canvas is drawn', drawn, str(info))
    # The step-time panel puts rank 0's waits next to the predicted ones.
    text = driver.execute_script('return document.body.innerText;') or ''
    r.check(f'{label}: the step time panel shows the waits for communication',
            'Waited for communication' in text and 'Waited for the gradient sync' in text,
            repr(text[:200]))


def check_jobs(driver, r, label, size, args, facts):
    r.check(f'{label}: links to the job', has_link(driver, '/jobs/' + args.job))


def check_tasks(driver, r, label, size, args, facts):
    task = facts.get('train_task')
    present = bool(task) and driver.execute_script(
        'return !!document.getElementById(arguments[0]);', task)
    r.check(f'{label}: lists the training task', present, repr(task))


def check_task(driver, r, label, size, args, facts):
    nodes = driver.execute_script(
        'return document.querySelectorAll("#task-nodes tbody tr").length;')
    r.check(f'{label}: lists the nodes of the training task', nodes == 2, f'{nodes} row(s)')
    r.check(f'{label}: links its job', has_link(driver, '/jobs/' + urllib.parse.quote(args.job)))


def check_whatif(driver, r, label, size, args, facts):
    forms = driver.find_elements(By.CSS_SELECTOR, '#main form')
    r.check(f'{label}: has its form', len(forms) > 0, f'{len(forms)} form(s)')


def common_checks(driver, r, label, size, ignore=()):
    box = error_box(driver)
    r.check(f'{label}: #error hidden or empty', box.get('present') and (box['hidden'] or not box['text']),
            str(box) if box.get('present') else '#error missing')
    if size is PHONE:
        width = size[1]
        o = driver.execute_script(OVERFLOW_JS, width)
        ok = o['scrollWidth'] <= min(width, o['innerWidth']) + 1
        r.check(f'{label}: no sideways overflow at {width} px', ok,
                f'scrollWidth {o["scrollWidth"]}, innerWidth {o["innerWidth"]}' +
                (f', widest {o["worst"]}' if o['worst'] and not ok else ''))
        title = driver.find_element(By.ID, 'page-title')
        t = o['title']
        shown = title.is_displayed() and t is not None and t['width'] > 0 and t['left'] >= -1 \
            and t['right'] <= width + 1
        r.check(f'{label}: #page-title is displayed inside the screen', shown, str(t))


def run_pages(driver, args, r):
    facts = {}
    try:
        plan = api_get(args, '/api/plans/' + urllib.parse.quote(args.plan))
        facts['plan_layers'] = len(plan.get('layers', []))
        job = api_get(args, '/api/jobs/' + urllib.parse.quote(args.job))
        facts['train_task'] = (job.get('job') or {}).get('trainTaskId')
        r.check('api: the plan and the job answer', True,
                f'{facts["plan_layers"]} layer(s), training task {facts["train_task"]}')
        metrics = api_get(args, '/api/jobs/' + urllib.parse.quote(args.job) + '/metrics?maxPoints=5')
        points = metrics.get('points', [])
        r.check('api: /api/jobs/ID/metrics?maxPoints=5 is down-sampled',
                0 < len(points) <= 5 and int(metrics.get('stepsDone', 0)) > 0,
                f'{len(points)} point(s) for {metrics.get("stepsDone")} step(s)')
    except Exception as e:  # noqa: BLE001 - reported as a failed check
        r.check('api: the plan and the job answer', False, repr(e))
    deadline = time.monotonic() + args.deadline
    for size in (DESKTOP, PHONE):
        set_viewport(driver, size)
        for name, path, key, extra in page_list(args, facts):
            label = f'{name} {path} @{size[0]}'
            if time.monotonic() > deadline:
                r.check(f'{label}', False, f'not checked: past the {args.deadline} s deadline')
                continue
            try:
                console_errors(driver)  # what earlier pages left
                driver.get(args.url.rstrip('/') + path)
                state = wait_ready(driver, key, args.timeout)
                if not r.check(f'{label}: loads', state == 'ready', state):
                    screenshot(driver, args, name + '-failed', size)
                    errors = console_errors(driver)
                    r.check(f'{label}: no console errors', not errors, ' | '.join(errors))
                    continue
                extra(driver, r, label, size, args, facts)
                common_checks(driver, r, label, size)
                screenshot(driver, args, name, size)
                errors = console_errors(driver)
                r.check(f'{label}: no console errors', not errors, ' | '.join(errors))
            except WebDriverException as e:
                r.check(f'{label}: the browser', False, f'{type(e).__name__}: {e.msg}')
            except Exception as e:  # noqa: BLE001 - reported as a failed check
                r.check(f'{label}: the check itself', False,
                        f'{type(e).__name__}: {e}\n{traceback.format_exc()}')


# ------------------------------------------------------------------ login


def raw_get(args, path, context):
    """(status, Location) of a GET without following redirects."""
    u = urllib.parse.urlsplit(args.url)
    if u.scheme == 'https':
        conn = http.client.HTTPSConnection(u.hostname, u.port, timeout=args.timeout, context=context)
    else:
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=args.timeout)
    try:
        conn.request('GET', path, headers={'Accept': 'application/json, text/html'})
        response = conn.getresponse()
        response.read()
        return response.status, response.getheader('Location')
    finally:
        conn.close()


def run_login(driver, args, r):
    base = args.url.rstrip('/')
    r.check('login: the dashboard serves HTTPS', base.startswith('https://'), base)
    context = None
    if base.startswith('https://'):
        context = ssl.create_default_context(cafile=args.ca) if args.ca else ssl._create_unverified_context()
    # Without a session: the API answers 401, a page sends the browser to /login.
    try:
        status, _ = raw_get(args, '/api/overview', context)
        r.check('login: /api/overview without a session is 401', status == 401, str(status))
        status, location = raw_get(args, args.login_page, context)
        r.check(f'login: {args.login_page} without a session redirects to /login',
                status in (302, 303, 307) and (location or '').startswith('/login'),
                f'{status} Location {location}')
        overview = api_get(args, '/api/overview', context=context, token=args.login)
        r.check('login: a bearer token opens the API', isinstance(overview, dict), 'GET /api/overview')
    except Exception as e:  # noqa: BLE001
        r.check('login: the HTTP answers', False, repr(e))

    ignore_401 = (r'/login\b.*\b401\b',)
    for size in (DESKTOP, PHONE):
        set_viewport(driver, size)
        driver.delete_all_cookies()
        label = f'login @{size[0]}'
        try:
            console_errors(driver)
            driver.get(base + args.login_page)
            state = wait_ready(driver, '#login-form', args.timeout)
            path = driver.execute_script('return location.pathname + location.search;')
            r.check(f'{label}: {args.login_page} shows the login page', state == 'ready' and path.startswith('/login'),
                    f'{state}; at {path}')
            if state != 'ready':
                screenshot(driver, args, 'login-failed', size)
                continue
            common_checks(driver, r, label, size)
            if size is DESKTOP:
                screenshot(driver, args, 'login', size)
            field = driver.find_element(By.CSS_SELECTOR, '#login-form input[name="token"]')
            r.check(f'{label}: the token field is a password field', field.get_attribute('type') == 'password',
                    repr(field.get_attribute('type')))

            # A wrong token: an error, still on the login page.
            field.clear()
            field.send_keys(args.wrong_token)
            field.send_keys(Keys.ENTER)

            def error_shown(d):
                box = error_box(d)
                return box.get('present') and not box['hidden'] and box['text']

            try:
                WebDriverWait(driver, args.timeout, poll_frequency=0.1).until(error_shown)
                shown = True
            except TimeoutException:
                shown = False
            box = error_box(driver)
            r.check(f'{label}: a wrong token shows an error', shown, repr(box.get('text')))
            path = driver.execute_script('return location.pathname;')
            r.check(f'{label}: a wrong token stays on /login', path == '/login', path)

            # The right token: the page asked for.
            field = driver.find_element(By.CSS_SELECTOR, '#login-form input[name="token"]')
            field.clear()
            field.send_keys(args.login)
            field.send_keys(Keys.ENTER)
            try:
                WebDriverWait(driver, args.timeout, poll_frequency=0.1).until(
                    lambda d: d.execute_script('return location.pathname;') == args.login_page)
                landed = True
            except TimeoutException:
                landed = False
            path = driver.execute_script('return location.pathname + location.search;')
            r.check(f'{label}: the viewer token lands on {args.login_page}', landed, f'at {path}')
            state = wait_ready(driver, args.login_key, args.timeout)
            r.check(f'{label}: {args.login_page} loads after the login', state == 'ready', state)
            if state == 'ready':
                common_checks(driver, r, label + ' after login', size)
            cookies = driver.get_cookies()
            session = [c for c in cookies if c.get('httpOnly')]
            r.check(f'{label}: the session cookie is HttpOnly, Secure, SameSite=Strict',
                    bool(session) and all(c.get('secure') and c.get('sameSite') == 'Strict' for c in session),
                    str([{k: c.get(k) for k in ('name', 'httpOnly', 'secure', 'sameSite')} for c in cookies]))
            # The session holds: another page opens without the login page.
            driver.get(base + '/plans')
            state = wait_ready(driver, None, args.timeout)
            path = driver.execute_script('return location.pathname;')
            r.check(f'{label}: the session opens /plans too', state == 'ready' and path == '/plans',
                    f'{state}; at {path}')
            errors = console_errors(driver, ignore=ignore_401, results=r)
            r.check(f'{label}: no console errors (but the wrong login\'s 401)', not errors, ' | '.join(errors))
        except WebDriverException as e:
            r.check(f'{label}: the browser', False, f'{type(e).__name__}: {e.msg}')
        except Exception as e:  # noqa: BLE001
            r.check(f'{label}: the check itself', False, f'{type(e).__name__}: {e}\n{traceback.format_exc()}')


# ------------------------------------------------------------------ main


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--url', required=True, help='the dashboard, e.g. http://127.0.0.1:8080')
    p.add_argument('--plan', help='a stored plan id')
    p.add_argument('--job', help='a running job id')
    p.add_argument('--cluster', help='a cluster with a hardware profile')
    p.add_argument('--model', default='gpt-tiny')
    p.add_argument('--nodes', type=int, default=1, help='alive nodes the nodes page must list')
    p.add_argument('--login', help='HTTPS mode: a viewer token of the dashboard\'s token file')
    p.add_argument('--wrong-token', default='not-a-token-0123456789')
    p.add_argument('--login-page', default='/nodes', help='the page the login lands on')
    p.add_argument('--login-key', default='#node-table', help='its key element')
    p.add_argument('--ca', help='the CA of the dashboard\'s certificate (for the HTTP checks)')
    p.add_argument('--screenshots', help='save a PNG of each page here')
    p.add_argument('--timeout', type=float, default=20, help='seconds each page may take')
    p.add_argument('--live-timeout', type=float, default=20,
                   help='seconds the job page has to show a new step')
    p.add_argument('--deadline', type=float, default=240, help='seconds for every page together')
    p.add_argument('--chromium', default='/usr/bin/chromium')
    p.add_argument('--chromedriver', default='/usr/bin/chromedriver')
    args = p.parse_args()
    args.insecure = args.url.startswith('https://')
    if not args.login and not (args.plan and args.job and args.cluster):
        p.error('--plan, --job and --cluster are needed (or --login)')
    for tool in (args.chromium, args.chromedriver):
        if not os.access(tool, os.X_OK):
            print(f'FAIL setup: {tool} is missing; run scripts/install-deps.sh')
            return 2

    r = Results()
    profile = tempfile.mkdtemp(prefix='galvatron-browser-')
    driver = None
    try:
        try:
            driver = make_driver(args, profile)
        except WebDriverException as e:
            print(f'FAIL setup: Chromium did not start: {e.msg}')
            log = os.path.join(profile, 'chromedriver.log')
            if os.path.exists(log):
                with open(log, errors='replace') as f:
                    print(f.read()[-4000:])
            return 2
        version = driver.capabilities.get('browserVersion', '?')
        r.note(f'Chromium {version}, Selenium {webdriver.__version__}, dashboard {args.url}')
        if args.login:
            run_login(driver, args, r)
        else:
            run_pages(driver, args, r)
    finally:
        if driver is not None:
            try:
                driver.quit()
            except Exception:  # noqa: BLE001 - already gone
                pass
        shutil.rmtree(profile, ignore_errors=True)
    return r.summary()


if __name__ == '__main__':
    sys.exit(main())
