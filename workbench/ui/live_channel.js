// The page's live channel (a Streamlit v2 component, see workbench/ui/live.py): one WebSocket
// per page and living lab to /api/live/{lab}/ws (workbench/live.py). It keeps the lab's notes
// as the server last described them, passes every delta to the page's maps (notes_layer.js inside
// the folium iframes), shows who is in the room and the round's timer, and asks Streamlit to
// rerun the part of the page it sits in (the list, the presenter's panel) when notes changed,
// but never while someone types into a field of the page.
const RETRY_MS = [500, 1000, 2000, 4000, 8000];
const PING_MS = 10000;

function text(node, value) { if (node.textContent !== value) { node.textContent = value; } }

function clock(seconds) {
    const over = seconds < 0;
    const s = Math.abs(Math.round(seconds));
    const m = Math.floor(s / 60);
    return (over ? "−" : "") + m + ":" + String(s % 60).padStart(2, "0");
}

class Channel {
    constructor(key) {
        this.key = key;
        this.revision = 0;
        this.features = new Map();
        this.session = null;
        this.skew = 0;            // server clock minus this device's clock, in ms
        this.retry = 0;
        this.ws = null;
        this.closed = false;
        this.pending = false;     // notes changed; a rerun is owed
        this.timer = null;
        this.device = Math.random().toString(36).slice(2, 10);
        this.onReady = (event) => {
            if (event.origin !== window.location.origin || !event.data) { return; }
            if (event.data.wbReady === this.data.lab) { this.fullStateTo(event.source); }
        };
        this.onFocusOut = () => setTimeout(() => this.flush(), 300);
        window.addEventListener("message", this.onReady);
        document.addEventListener("focusout", this.onFocusOut, true);
        this.tick = setInterval(() => this.showTimer(), 1000);
    }

    attach(component) {
        const data = component.data;
        const view = this.data && (this.data.lang !== data.lang || this.data.colour_by !==
            data.colour_by || this.data.scale !== data.scale);
        const selected = this.data && this.data.selected;
        const clear = this.data ? this.data.clear : data.clear;
        this.data = data;
        this.setTrigger = component.setTriggerValue;
        this.root = component.parentElement;
        if (!this.root.querySelector(".wb-live")) {  // added beside the component's own styles
            const box = document.createElement("div");
            box.className = "wb-live";
            box.innerHTML = '<span class="wb-status"></span>' +
                '<span class="wb-timer" role="timer"></span><div class="wb-presence"></div>';
            this.root.appendChild(box);
        }
        clearTimeout(this.detachTimer);
        this.pending = false;  // this run shows the newest state
        if (!this.ws) { this.connect(); }
        else if (view) { this.reconnect(true); }
        if (selected !== data.selected) {
            this.post({type: "select", id: data.selected, zoom: true});
        }
        if (data.clear !== clear) { this.post({type: "clear"}); }
        this.showStatus(this.state || "connecting");
        this.showPresence();
        this.showTimer();
    }

    detach() {  // Streamlit unmounted us; a rerun mounts us again at once
        this.detachTimer = setTimeout(() => this.close(), 5000);
    }

    close() {
        this.closed = true;
        clearInterval(this.tick);
        clearInterval(this.pinger);
        window.removeEventListener("message", this.onReady);
        document.removeEventListener("focusout", this.onFocusOut, true);
        if (this.ws) { this.ws.close(); }
        delete window.__wbLive[this.key];
    }

    url() {
        const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
        return scheme + "//" + window.location.host + this.data.path;
    }

    connect() {
        if (this.closed) { return; }
        this.showStatus("connecting");
        const ws = this.ws = new WebSocket(this.url());
        ws.onopen = () => {
            ws.send(JSON.stringify({token: this.data.token, since: this.revision,
                lang: this.data.lang, colour_by: this.data.colour_by, scale: this.data.scale,
                device: this.device}));
            clearInterval(this.pinger);
            this.pinger = setInterval(() => {
                if (ws.readyState === 1) { ws.send('{"type":"ping"}'); }
            }, PING_MS);
        };
        ws.onmessage = (event) => this.receive(JSON.parse(event.data));
        ws.onclose = (event) => {
            if (this.ws !== ws) { return; }
            this.ws = null;
            clearInterval(this.pinger);
            if (this.closed) { return; }
            if (event.code === 4401 || event.code === 4403) {
                // the token expired or no longer fits (a new passcode, the session ended):
                // a rerun gives the page a fresh one, or tells why not
                this.showStatus("reload");
                this.setTrigger("expired", Date.now());
                return;
            }
            this.showStatus("offline");
            const wait = RETRY_MS[Math.min(this.retry++, RETRY_MS.length - 1)];
            setTimeout(() => { if (!this.ws) { this.connect(); } }, wait);
        };
    }

    reconnect(fresh) {
        if (fresh) { this.revision = 0; }
        const ws = this.ws;
        this.ws = null;
        if (ws) { ws.onclose = null; ws.close(); }
        clearInterval(this.pinger);
        this.connect();
    }

    receive(m) {
        if (m.now) { this.skew = m.now * 1000 - Date.now(); }
        if (m.type === "delta") {
            this.retry = 0;
            this.showStatus("live");
            const changed = m.reset ? this.revision !== 0 || m.features.length > 0
                : m.features.length + m.removed.length > 0;
            if (m.reset) { this.features.clear(); }
            m.features.forEach((f) => this.features.set(f.id, f));
            m.removed.forEach((id) => this.features.delete(id));
            const before = this.session;
            if (m.session) { this.session = m.session; }
            this.revision = m.revision;
            this.post({type: "delta", revision: m.revision, reset: m.reset,
                features: m.features, removed: m.removed});
            const box = this.root.querySelector(".wb-live");
            if (box) { box.setAttribute("data-revision", String(m.revision)); }
            if (m.session) { this.sessionChanged(before, m.session); }
            // a rerun only for what the page does not show yet (its own saves it does)
            if (changed && m.revision > (this.data.revision || 0)) { this.owe(); }
            this.showTimer();
        } else if (m.type === "presence") {
            this.presence = m.groups;
            this.showPresence();
        } else if (m.type === "error") {
            this.lastError = m.message;
        }
    }

    sessionChanged(before, now) {
        if (!before) { return; }
        const bounds = now.view && now.view.bounds;
        if (this.data.follow_view && bounds &&
            JSON.stringify(bounds) !== JSON.stringify(before.view && before.view.bounds)) {
            this.post({type: "view", bounds: bounds});
        }
        const shape = (s) => JSON.stringify([s.session && s.session.id, s.phase, s.lock_edits,
            s.round && [s.round.id, s.round.status], s.vote_round, s.vote_limit,
            s.view && [s.view.layers, s.view.layer_ids]]);
        if (shape(before) !== shape(now) && this.revision > (this.data.revision || 0)) {
            this.owe();
        }
    }

    owe() {  // ask Streamlit for a rerun, once nobody types into a field of the page
        this.pending = true;
        this.flush();
    }

    flush() {
        if (!this.pending || !this.data.rerun) { return; }
        const active = document.activeElement;
        if (active && (active.tagName === "TEXTAREA" ||
            (active.tagName === "INPUT" && !["checkbox", "radio", "button"].includes(active.type)))) {
            return;  // again on focusout
        }
        this.pending = false;
        this.setTrigger("changed", this.revision);
    }

    frames() {
        return Array.from(document.querySelectorAll("iframe")).filter((f) => {
            try { return f.contentWindow && f.contentWindow.location.origin === window.location.origin; }
            catch (e) { return false; }
        });
    }

    post(message) {
        const m = Object.assign({wbLab: this.data.lab}, message);
        this.frames().forEach((f) => f.contentWindow.postMessage(m, window.location.origin));
    }

    fullStateTo(target) {
        const bounds = this.session && this.session.view && this.session.view.bounds;
        target.postMessage({wbLab: this.data.lab, type: "delta", reset: true,
            revision: this.revision, features: Array.from(this.features.values()), removed: [],
            select: this.data.selected || null}, window.location.origin);
        if (this.data.follow_view && bounds) {
            target.postMessage({wbLab: this.data.lab, type: "view", bounds: bounds},
                window.location.origin);
        }
        if (this.data.selected) {
            target.postMessage({wbLab: this.data.lab, type: "select", id: this.data.selected,
                zoom: true}, window.location.origin);
        }
    }

    showStatus(state) {
        this.state = state;
        const node = this.root && this.root.querySelector(".wb-status");
        if (!node || !this.data.texts) { return; }
        node.className = "wb-status wb-s-" + state;
        node.setAttribute("data-state", state);
        text(node, (state === "live" ? "● " : "○ ") + (this.data.texts[state] || state));
    }

    showPresence() {
        const node = this.root && this.root.querySelector(".wb-presence");
        if (!node) { return; }
        const shown = JSON.stringify([this.data.presence, this.presence, this.data.lang]);
        if (node.getAttribute("data-shown") === shown) { return; }  // unchanged: keep the DOM
        node.setAttribute("data-shown", shown);
        node.replaceChildren();
        if (!this.data.presence) { return; }
        const head = document.createElement("div");
        head.className = "wb-presence-title";
        text(head, this.data.texts.presence_title);
        node.appendChild(head);
        const groups = this.presence || [];
        if (!groups.length) {
            const none = document.createElement("div");
            text(none, this.data.texts.presence_none);
            node.appendChild(none);
        }
        groups.forEach((g) => {
            const chip = document.createElement("span");
            chip.className = "wb-chip";
            chip.setAttribute("data-group", g.name || g.role);
            const dot = document.createElement("span");
            dot.className = "wb-dot";
            dot.style.background = /^#[0-9a-fA-F]{6}$/.test(g.colour) ? g.colour : "#777777";
            chip.appendChild(dot);
            const label = document.createElement("bdi");
            text(label, g.name || this.data.texts["role_" + g.role] || g.role);
            chip.appendChild(label);
            const n = document.createElement("span");
            n.className = "wb-n";
            text(n, " · " + this.data.texts.devices.replace("{count}", String(g.devices)));
            chip.appendChild(n);
            node.appendChild(chip);
        });
    }

    showTimer() {
        const node = this.root && this.root.querySelector(".wb-timer");
        if (!node) { return; }
        const r = this.session && this.session.round;
        if (!this.data.timer || !r || !r.minutes || !r.started_at) { text(node, ""); return; }
        const now = Date.now() + this.skew;
        const until = r.paused_at ? Date.parse(r.paused_at) : now;
        const elapsed = Math.max(0, (until - Date.parse(r.started_at)) / 1000 - r.paused_seconds);
        const left = r.minutes * 60 - elapsed;
        node.classList.toggle("wb-over", left < 0);
        text(node, left < 0 ? clock(left) + " · " + this.data.texts.over : clock(left));
    }
}

export default function (component) {
    const registry = window.__wbLive || (window.__wbLive = {});
    const key = component.data.lab + "|" + component.data.page;
    let channel = registry[key];
    if (!channel || channel.closed) { channel = registry[key] = new Channel(key); }
    channel.attach(component);
    return () => channel.detach();
}
