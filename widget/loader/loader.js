// Threadline loader: the one <script> a site owner pastes. It must stay tiny (≤ 2 KB gzip) and
// must never slow or break the host page: it draws the launcher in its own Shadow DOM right away
// and fetches the Wasm chat only when the browser is idle or the visitor reaches for the launcher.
// Its only global is `Threadline`, a command queue in the style of Intercom's.
(function () {
  var script = document.currentScript;
  if (!script || (window.Threadline && window.Threadline.loaded)) return;
  var site = script.getAttribute("data-site") || "";
  var base = new URL(".", script.src);
  var queue = (window.Threadline && window.Threadline.q) || [];
  var mod, loading, host, container, placeholder, wantOpen = false, hidden = false;
  var handlers = {};
  // The site's look (colour, side, icon) and the widget's words in the visitor's language,
  // before anything is drawn, so the launcher never flashes Threadline's defaults; null when
  // unavailable (the widget then says why, in English).
  var langs = navigator.languages || [navigator.language];
  var config = fetch(base.origin + "/v1/sites/" + encodeURIComponent(site) + "/widget?lang=" + encodeURIComponent(langs.join()))
    .then(function (r) {
      return r.ok ? r.json() : null;
    })
    .catch(function () {
      return null;
    });

  function api() {
    var args = [].slice.call(arguments);
    var name = args[0];
    // Handlers and visibility live here, so they work before the widget has loaded.
    if (name === "on" || name === "off") {
      var list = (handlers[args[1]] = handlers[args[1]] || []);
      if (name === "on" && typeof args[2] === "function") list.push(args[2]);
      else if (name === "off") handlers[args[1]] = list.filter(function (f) { return f !== args[2]; });
      return;
    }
    if (name === "show" || name === "hide") {
      hidden = name === "hide";
      // An attribute, not an inline style: the shadow root's `:host` rule outranks inline styles.
      if (host) host.toggleAttribute("data-hidden", hidden);
      return;
    }
    if (mod) run(args);
    else {
      queue.push(args);
      if (args[0] === "open") load(true);
    }
  }
  api.q = queue;
  api.loaded = true;
  window.Threadline = api;
  // Calls made to a stub before this script ran: the loader's own take effect now, the rest
  // wait for the widget.
  queue.splice(0).forEach(function (args) {
    if (/^(on|off|show|hide)$/.test(args[0])) api.apply(null, args);
    else queue.push(args);
  });

  function emit(name, detail) {
    (handlers[name] || []).slice().forEach(function (f) {
      try {
        f(detail);
      } catch (error) {
        console.warn(error);
      }
    });
  }

  function run(args) {
    try {
      mod.command(String(args[0]), args[1]);
    } catch (error) {
      console.warn(error);
    }
  }

  function load(open) {
    if (open) wantOpen = true;
    if (mod) {
      if (open) run(["open"]);
      return;
    }
    if (loading) return;
    loading = Promise.all([import(new URL(__GLUE__, base).href), config])
      .then(function (both) {
        var m = both[0];
        return m.default({ module_or_path: new URL(__WASM__, base).href }).then(function () {
          // Mount in a task of its own, not in the one that instantiated the module: two short
          // tasks instead of one long one on the page's main thread.
          return new Promise(function (resolve) {
            setTimeout(resolve, 0);
          });
        }).then(function () {
          return m.mount(container, { site: site, api: base.origin, open: wantOpen, emit: emit, config: both[1] });
        }).then(function () {
          mod = m;
          placeholder.remove();
          host.setAttribute("data-state", "ready");
          queue.splice(0).forEach(run);
        });
      })
      .catch(function (error) {
        loading = null;
        placeholder.setAttribute("aria-label", "Chat is unavailable right now");
        console.warn("Threadline could not load", error);
      });
  }

  function start() {
    host = document.createElement("div");
    host.setAttribute("data-threadline", site);
    // Inline !important beats any stylesheet rule the host page has, hostile or not.
    host.style.cssText =
      "all:initial!important;display:block!important;position:fixed!important;width:0!important;height:0!important;right:0!important;bottom:0!important;z-index:2147483000!important;visibility:visible!important;opacity:1!important";
    var root = host.attachShadow({ mode: "open" });
    var css =
      ":host{all:initial!important;display:block!important}:host([data-hidden]){display:none!important}" +
      "[data-wait]{visibility:hidden}.tl-launcher{all:initial;position:fixed;right:20px;bottom:20px;width:56px;height:56px;display:flex;align-items:center;justify-content:center;border-radius:50%;background:#4338ca;color:#fff;cursor:pointer;box-shadow:0 6px 20px rgba(30,27,75,.35)}" +
      ".tl-launcher:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}";
    // A constructed stylesheet, not a <style> element: a strict Content-Security-Policy on the
    // host page (no 'unsafe-inline' styles) allows it. Older browsers get the element.
    var adopt = "adoptedStyleSheets" in root;
    if (adopt) {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(css);
      root.adoptedStyleSheets = [sheet];
    }
    root.innerHTML =
      (adopt ? "" : "<style>" + css + "</style>") +
      '<div class="tl-app"></div>' +
      '<button class="tl-launcher" data-wait aria-label="Open chat" aria-expanded="false">' +
      '<svg viewBox="0 0 24 24" width="26" height="26" aria-hidden="true"><path fill="currentColor" d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"/></svg></button>';
    container = root.querySelector(".tl-app");
    placeholder = container.nextSibling;
    placeholder.addEventListener("click", function () {
      load(true);
    });
    placeholder.addEventListener("pointerenter", function () {
      load(false);
    });
    placeholder.addEventListener("focus", function () {
      load(false);
    });
    host.toggleAttribute("data-hidden", hidden);
    document.body.appendChild(host);
    // Never hidden for long: a slow edge gets the default look after 3 s.
    setTimeout(function () {
      placeholder.removeAttribute("data-wait");
    }, 3000);
    config.then(function (c) {
      var style = placeholder.style;
      if (c) {
        style.background = c.accent;
        style.color = c.on_accent;
        if (c.widget.position == "left") (style.left = "20px"), (style.right = "auto");
        placeholder.querySelector("path").setAttribute("d", c.launcher_path);
      }
      placeholder.removeAttribute("data-wait");
    });
    if (queue.length) load(queue.some(function (a) { return a[0] === "open"; }));
    else if (window.requestIdleCallback) requestIdleCallback(function () { load(false); }, { timeout: 5000 });
    else setTimeout(function () { load(false); }, 2000);
  }

  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
