// Streamlit's own texts in the page's language (a Streamlit v2 component, see
// workbench/ui/__init__.py, translate_builtins): the file uploader's "Upload", "200MB per file",
// "Drag and drop a file here", the "Press Enter to apply" hints and the "No results" of a list
// are written by Streamlit's frontend in English, with no parameter to change them. A
// MutationObserver puts the translation into each such text as it appears (and back in the
// other language when the language changes); everything else on the page stays untouched.
const RULES = [
    [/^Upload$/, "upload"],
    [/^Add files$/, "add_files"],
    [/^Drag and drop (a file|files|directories) here$/, "drop"],
    [/^(\S+)\s*per file(?: • (.+))?$/, "per_file"],
    [/^Press Enter to apply$/, "enter_apply"],
    [/^Press Enter to submit form$/, "enter_submit"],
    [/^Press (⌘|Ctrl)\+Enter to apply$/, "ctrl_enter_apply"],
    [/^Press (⌘|Ctrl)\+Enter to submit form$/, "ctrl_enter_submit"],
    [/^No results$/, "no_results"],
    [/^Choose options$/, "choose_options"],
    [/^Choose an option$/, "choose_option"],
    [/^(.+) files are not allowed\.$/, "not_allowed"],
];

function fill(template, match) {
    const size = (match[1] || "").replace(/^(\d+(?:[.,]\d+)?)([KMG]?B)$/, "$1 $2");
    return template.replace("{1}", size).replace("{key}", match[1] || "")
        .replace("{type}", match[1] || "").replace(" • {2}", match[2] ? " • " + match[2] : "");
}

class Translator {
    constructor() {
        this.texts = {};
        this.originals = new Map();  // text node -> Streamlit's English text
        this.observer = new MutationObserver((records) => {
            for (const r of records) {
                if (r.type === "characterData") { this.fix(r.target); }
                r.addedNodes.forEach((n) => this.walk(n));
            }
        });
    }

    start(texts) {
        const changed = JSON.stringify(texts) !== JSON.stringify(this.texts);
        this.texts = texts;
        if (!this.started) {
            this.started = true;
            this.observer.observe(document.body, {subtree: true, childList: true,
                                                  characterData: true});
            this.walk(document.body);
        } else if (changed) {
            for (const [node, english] of this.originals) {
                if (!node.isConnected) { this.originals.delete(node); continue; }
                this.apply(node, english);
            }
        }
    }

    walk(root) {
        if (root.nodeType === Node.TEXT_NODE) { this.fix(root); return; }
        if (root.nodeType !== Node.ELEMENT_NODE) { return; }
        const it = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
        for (let n = it.nextNode(); n; n = it.nextNode()) { this.fix(n); }
    }

    fix(node) {
        const text = (node.nodeValue || "").trim();
        if (!text || text.length > 120) { return; }
        if (RULES.some(([re]) => re.test(text))) {
            this.originals.set(node, text);
            this.apply(node, text);
        }
    }

    apply(node, english) {
        for (const [re, key] of RULES) {
            const m = english.match(re);
            if (m && this.texts[key]) {
                const value = fill(this.texts[key], m);
                if (node.nodeValue !== value) { node.nodeValue = value; }
                return;
            }
        }
    }
}

export default function (component) {
    const t = window.__wbBuiltins || (window.__wbBuiltins = new Translator());
    t.start(component.data.texts || {});
}
