/*
 * Progress on the import pages: the bytes sent, then the rows the server has read.
 *
 * A form marked data-import-progress="<progress URL with __id__>" (templates
 * admin/import_export/import.html and admin/clinic/patient/synthea_import.html) is
 * sent with XMLHttpRequest instead of the browser's own post, so that the page can
 * show the upload's progress events; a random id goes with the form as
 * "progress_id", and once the upload is sent the page asks the progress URL (the id
 * in place of __id__; admin_ext/imports/views.py) once a second for the rows the
 * server has read. Nothing is shown unless the request takes more than
 * SHOW_AFTER_MS. The answer then replaces the page, as the browser's own post would
 * have (a redirect is followed, and the address bar shows where it led).
 *
 * When the progress URL finds nothing (another app server without a shared cache,
 * or a cache outage) the page says the server is working, with the seconds spent.
 * Without JavaScript, or without XMLHttpRequest upload events, FormData, fetch or
 * crypto.getRandomValues, the form posts as it always did.
 *
 * No inline script is needed: this file finds its forms by their attribute.
 */
(function () {
    "use strict";

    var SHOW_AFTER_MS = 2000;
    var POLL_EVERY_MS = 1000;

    function supported() {
        return Boolean(
            window.XMLHttpRequest &&
                window.FormData &&
                window.fetch &&
                window.crypto &&
                window.crypto.getRandomValues &&
                "upload" in new window.XMLHttpRequest()
        );
    }

    // 18 random bytes as 24 base64url characters (the shape the server accepts).
    function randomId() {
        var bytes = new Uint8Array(18);
        var text = "";
        window.crypto.getRandomValues(bytes);
        for (var i = 0; i < bytes.length; i += 1) {
            text += String.fromCharCode(bytes[i]);
        }
        return window.btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    }

    function count(n) {
        return Math.round(n).toLocaleString("en-US");
    }

    function size(bytes) {
        if (bytes >= 1024 * 1024) {
            return (bytes / 1024 / 1024).toFixed(1) + " MB";
        }
        return Math.ceil(bytes / 1024) + " KB";
    }

    function Display(form) {
        this.box = form.querySelector(".import-progress");
        this.bar = this.box && this.box.querySelector(".progress-bar");
        this.text = this.box && this.box.querySelector(".import-progress-text");
    }

    // percent: 0-100, or null for "working, amount unknown" (a moving striped bar).
    Display.prototype.show = function (text, percent) {
        if (!this.box) {
            return;
        }
        this.box.hidden = false;
        this.text.textContent = text;
        if (!this.bar) {
            return;
        }
        var unknown = percent === null || percent === undefined;
        var value = unknown ? 100 : Math.max(0, Math.min(100, percent));
        this.bar.classList.toggle("progress-bar-striped", unknown);
        this.bar.classList.toggle("progress-bar-animated", unknown);
        this.bar.style.width = value + "%";
        if (unknown) {
            this.bar.removeAttribute("aria-valuenow");
        } else {
            this.bar.setAttribute("aria-valuenow", String(Math.floor(value)));
        }
    };

    Display.prototype.fail = function (text) {
        this.show(text, 0);
        if (this.box) {
            this.text.classList.remove("text-muted");
            this.text.classList.add("text-danger");
        }
    };

    function serverText(figures, seconds) {
        if (!figures) {
            return ["The server is checking the file\u2026 " + seconds + " s", null];
        }
        if (figures.done) {
            return ["Preparing the page\u2026", 100];
        }
        if (figures.stage === "reading" || !figures.rows) {
            return ["Reading the file\u2026 " + seconds + " s", null];
        }
        var rate = figures.rate ? " (" + count(figures.rate) + " rows/s)" : "";
        if (figures.total) {
            return [
                "Read " + count(figures.rows) + " of " + count(figures.total) + " rows" + rate,
                (100 * figures.rows) / figures.total,
            ];
        }
        var where = figures.file ? figures.file + ": read " : "Read ";
        return [where + count(figures.rows) + " rows" + rate, null];
    }

    function replacePage(xhr) {
        var url = xhr.responseURL;
        document.open();
        document.write(xhr.responseText);
        document.close();
        if (url && url !== window.location.href && window.history && window.history.replaceState) {
            window.history.replaceState(null, "", url);
        }
    }

    function send(form, submitter) {
        var id = randomId();
        var data = new FormData(form);
        var display = new Display(form);
        var buttons = form.querySelectorAll("[type=submit]");
        var pollUrl = form.getAttribute("data-import-progress").replace("__id__", id);
        var action = new URL(form.getAttribute("action") || "", window.location.href).href;
        var state = {
            started: Date.now(),
            working: null,
            sent: 0,
            total: 0,
            figures: null,
            visible: false,
            polling: false,
            finished: false,
        };
        var timers = [];

        if (submitter && submitter.name) {
            data.append(submitter.name, submitter.value);
        }
        data.append("progress_id", id);

        function render() {
            if (!state.visible || state.finished) {
                return;
            }
            if (state.working === null) {
                if (state.total) {
                    var percent = (100 * state.sent) / state.total;
                    display.show(
                        "Sending the file: " + size(state.sent) + " of " + size(state.total) +
                            " (" + Math.floor(percent) + "%)",
                        percent
                    );
                } else {
                    display.show("Sending the file\u2026", null);
                }
                return;
            }
            var seconds = Math.round((Date.now() - state.working) / 1000);
            var shown = serverText(state.figures, seconds);
            display.show(shown[0], shown[1]);
        }

        function poll() {
            if (state.finished || state.polling) {
                return;
            }
            state.polling = true;
            window
                .fetch(pollUrl, {
                    credentials: "same-origin",
                    cache: "no-store",
                    headers: { Accept: "application/json" },
                })
                .then(function (response) {
                    return response.ok ? response.json() : null;
                })
                .catch(function () {
                    return null;
                })
                .then(function (figures) {
                    state.polling = false;
                    if (figures && typeof figures === "object") {
                        state.figures = figures;
                    }
                    render();
                    if (!state.finished) {
                        timers.push(window.setTimeout(poll, POLL_EVERY_MS));
                    }
                });
        }

        function working() {
            if (state.working === null) {
                state.working = Date.now();
                poll();
            }
            render();
        }

        function stop() {
            state.finished = true;
            timers.forEach(window.clearTimeout);
        }

        var xhr = new window.XMLHttpRequest();
        xhr.open("POST", action);
        xhr.upload.addEventListener("progress", function (event) {
            if (event.lengthComputable) {
                state.sent = event.loaded;
                state.total = event.total;
            }
            render();
        });
        xhr.upload.addEventListener("load", working);
        xhr.addEventListener("load", function () {
            stop();
            replacePage(xhr);
        });
        ["error", "abort", "timeout"].forEach(function (kind) {
            xhr.addEventListener(kind, function () {
                stop();
                form.removeAttribute("data-import-busy");
                Array.prototype.forEach.call(buttons, function (button) {
                    button.disabled = false;
                });
                display.fail(
                    "The connection to the server was lost before it answered. Try again; " +
                        "if it happens again, ask an administrator."
                );
            });
        });

        Array.prototype.forEach.call(buttons, function (button) {
            button.disabled = true;
        });
        xhr.send(data);
        timers.push(
            window.setTimeout(function () {
                state.visible = true;
                // No upload events (a form without a file, or a browser that sends
                // none): the server is at work already.
                if (!state.total) {
                    working();
                }
                render();
            }, SHOW_AFTER_MS)
        );
    }

    function init() {
        if (!supported()) {
            return;
        }
        var forms = document.querySelectorAll("form[data-import-progress]");
        Array.prototype.forEach.call(forms, function (form) {
            form.addEventListener("submit", function (event) {
                if (event.defaultPrevented) {
                    return;
                }
                event.preventDefault();
                if (form.hasAttribute("data-import-busy")) {
                    return; // sent already: a second click must not send it twice
                }
                form.setAttribute("data-import-busy", "");
                send(form, event.submitter);
            });
        });
    }

    if (document.readyState === "loading") {
        document.addEventListener("DOMContentLoaded", init);
    } else {
        init();
    }
})();
