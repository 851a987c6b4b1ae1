/* The LispIsh block editor: a block view over the requirement textarea.
 *
 * The textarea is the form field and the single source of truth. Typing in it
 * triggers the htmx validation (see RequirementWidget); the feedback partial
 * carries the parse tree as JSON, and when the text parses the blocks are
 * redrawn from that tree. Editing blocks rewrites the textarea with the
 * canonical text (the same rules as requirements/lispish/emitter.py) and
 * asks htmx to validate it again.
 *
 * Tree nodes: {type: "call", name, args: [...]}, {type: "str", value},
 * {type: "int", value: "digits"} (digit strings: LispIsh integers go past
 * what a JavaScript number holds exactly).
 */
(function () {
  "use strict";

  const WIDTH = 72;
  const FAMILIES = ["constant", "logical", "arithmetic", "dynamic"];
  const ESCAPES = { "\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t" };

  // ---- Canonical text, as requirements/lispish/emitter.py writes it.

  function quote(text) {
    return '"' + text.replace(/[\\"\n\t]/g, (c) => ESCAPES[c]) + '"';
  }

  function oneLine(node) {
    if (node.type === "int") return String(node.value);
    if (node.type === "str") return quote(node.value);
    if (!node.args.length) return "(" + node.name + ")";
    return "(" + node.name + " " + node.args.map(oneLine).join(" ") + ")";
  }

  function emit(node, indent) {
    indent = indent || 0;
    const text = oneLine(node);
    // Python counts code points, not UTF-16 units: count the same way.
    const width = Array.from(text).length;
    if (node.type !== "call" || !node.args.length || indent + width <= WIDTH) {
      return text;
    }
    const pad = "\n" + " ".repeat(indent + 2);
    const args = node.args.map((arg) => pad + emit(arg, indent + 2)).join("");
    return "(" + node.name + args + ")";
  }

  function sameText(a, b) {
    // Form encodings may turn newlines into CRLF on the way to the server.
    return a.replace(/\r\n/g, "\n") === b.replace(/\r\n/g, "\n");
  }

  // ---- Small DOM helpers.

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function button(className, label, title, onClick) {
    const node = el("button", className, label);
    node.type = "button"; // never submit the admin form
    if (title) node.title = title;
    node.addEventListener("click", onClick);
    return node;
  }

  // ---- CSRF for our htmx requests: the admin form holds the token.

  function csrfToken() {
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) return input.value;
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  document.addEventListener("htmx:configRequest", (event) => {
    const elt = event.detail.elt;
    if (elt.closest && elt.closest("[data-lispish-editor], [data-lispish-panel]")) {
      event.detail.headers["X-CSRFToken"] = csrfToken();
    }
  });

  // Enter in a block's input or the "Test as" search must not save the form.
  document.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && event.target.closest &&
        event.target.closest(".lispish-literal, [data-lispish-panel]") &&
        event.target.tagName === "INPUT") {
      event.preventDefault();
    }
  });

  // ---- The editor: one per RequirementWidget on the page.

  class Editor {
    constructor(root) {
      this.root = root;
      this.textarea = root.querySelector("textarea");
      this.feedback = root.querySelector("[data-lispish-feedback]");
      this.canvas = root.querySelector("[data-lispish-canvas]");
      this.stale = root.querySelector("[data-lispish-stale]");
      const blocks = document.getElementById(root.dataset.blocksId);
      this.blocks = {};
      for (const block of JSON.parse(blocks.textContent)) {
        this.blocks[block.name] = block;
      }
      this.tree = null;
      this.selected = null;
      this.buildPalette(root.querySelector("[data-lispish-palette]"));
      root.querySelector("[data-lispish-blocks-view]").hidden = false;
      this.readFeedback();
      root.addEventListener("htmx:afterSwap", (event) => {
        if (event.detail.target === this.feedback) this.readFeedback();
      });
    }

    // The server's verdict on the text; redraw the blocks when it parsed.
    readFeedback() {
      const script = this.feedback.querySelector("script[type='application/json']");
      if (!script) return;
      const data = JSON.parse(script.textContent);
      // A reply to older text: a newer request is on its way.
      if (!sameText(data.text, this.textarea.value)) return;
      this.stale.hidden = Boolean(data.tree || data.blank);
      if (!this.stale.hidden) return;
      // The same tree as the blocks (e.g. our own edit coming back): keep the
      // view as it is, so an input being typed in keeps its focus.
      const current = this.tree ? emit(this.tree) : "";
      if (current !== (data.tree ? emit(data.tree) : "") || !this.canvas.firstChild) {
        this.tree = data.tree;
        this.selected = data.tree;
        this.render();
      }
    }

    // After a block edit: the textarea gets the canonical text, htmx checks it.
    changed() {
      this.textarea.value = this.tree ? emit(this.tree) : "";
      this.stale.hidden = true;
      this.textarea.dispatchEvent(new Event("lispish-changed"));
    }

    buildPalette(palette) {
      for (const family of FAMILIES) {
        const group = el("div", "lispish-group family-" + family);
        group.append(el("span", "lispish-group-name", family));
        for (const block of Object.values(this.blocks)) {
          if (block.family !== family) continue;
          const title = block.summary + " Takes " + block.arity + ". e.g. " +
            block.example;
          const add = button("lispish-add", block.name, title, () =>
            this.add({ type: "call", name: block.name, args: [] }));
          add.dataset.block = block.name;
          group.append(add);
        }
        palette.append(group);
      }
      const values = el("div", "lispish-group family-value");
      values.append(el("span", "lispish-group-name", "value"));
      const text = button("lispish-add", '"text"', "A text argument", () =>
        this.add({ type: "str", value: "" }));
      text.dataset.block = "text";
      const number = button("lispish-add", "123", "A number argument", () =>
        this.add({ type: "int", value: "0" }));
      number.dataset.block = "number";
      values.append(text, number);
      palette.append(values);
    }

    // Add a node into the selected call (or as the requirement itself).
    add(node) {
      if (!this.tree) {
        if (node.type !== "call") {
          return this.say("A requirement starts with a block, e.g. AND or COMPLETED.");
        }
        this.tree = node;
      } else {
        const target = this.selected || this.tree;
        const block = this.blocks[target.name];
        if (block && block.max_args !== null && target.args.length >= block.max_args) {
          return this.say(target.name + " takes " + block.arity + ".");
        }
        target.args.push(node);
      }
      if (node.type === "call" && this.blocks[node.name].max_args !== 0) {
        this.selected = node;
      }
      this.say("");
      this.render();
      this.changed();
      if (node.type !== "call") {
        const inputs = this.canvas.querySelectorAll(".lispish-literal input");
        const input = Array.from(inputs).find((i) => i.lispishNode === node);
        if (input) input.focus();
      }
    }

    parentOf(node, within) {
      within = within || this.tree;
      if (!within || within.type !== "call") return null;
      for (const arg of within.args) {
        if (arg === node) return within;
        const parent = this.parentOf(node, arg);
        if (parent) return parent;
      }
      return null;
    }

    remove(node, parent) {
      if (!parent) {
        this.tree = null;
        this.selected = null;
      } else {
        parent.args.splice(parent.args.indexOf(node), 1);
        // Keep the selection only if it is still in the tree.
        if (this.selected !== this.tree && !this.parentOf(this.selected)) {
          this.selected = parent;
        }
      }
      this.render();
      this.changed();
    }

    move(node, parent, delta) {
      const args = parent.args;
      const from = args.indexOf(node);
      const to = from + delta;
      if (to < 0 || to >= args.length) return;
      args.splice(from, 1);
      args.splice(to, 0, node);
      this.render();
      this.changed();
    }

    say(message) {
      let note = this.root.querySelector(".lispish-note");
      if (!note) {
        note = el("p", "lispish-note");
        note.setAttribute("role", "status");
        this.canvas.before(note);
      }
      note.textContent = message;
      note.hidden = !message;
    }

    render() {
      if (this.tree) {
        this.canvas.replaceChildren(this.view(this.tree, null));
      } else {
        this.canvas.replaceChildren(el("p", "lispish-empty",
          "No requirement yet: pick a block in the palette to start."));
      }
    }

    view(node, parent) {
      return node.type === "call" ? this.callView(node, parent)
        : this.literalView(node, parent);
    }

    callView(node, parent) {
      const block = this.blocks[node.name];
      const box = el("div", "lispish-node lispish-call family-" +
        (block ? block.family : "unknown"));
      box.dataset.name = node.name;
      const head = el("div", "lispish-head");
      const name = button("lispish-name", node.name,
        block ? block.summary : "Unknown block", () => {
          this.selected = node;
          this.render();
        });
      name.setAttribute("aria-pressed", String(node === this.selected));
      if (node === this.selected) box.classList.add("is-selected");
      head.append(name, el("span", "lispish-arity",
        block ? "takes " + block.arity : "unknown block"), this.tools(node, parent));
      box.append(head);
      if (!block || block.max_args !== 0) {
        const args = el("div", "lispish-args");
        for (const arg of node.args) args.append(this.view(arg, node));
        if (!node.args.length) {
          args.append(el("span", "lispish-empty", "no arguments yet"));
        }
        box.append(args);
      }
      return box;
    }

    literalView(node, parent) {
      const box = el("div", "lispish-node lispish-literal lispish-" + node.type);
      const input = el("input");
      input.lispishNode = node;
      if (node.type === "int") {
        input.type = "number";
        input.min = "0";
        input.step = "1";
        input.setAttribute("aria-label", "Number");
        input.addEventListener("focus", () => input.select());
      } else {
        input.type = "text";
        input.setAttribute("aria-label", "Text");
        input.placeholder = "text";
      }
      input.value = node.value;
      input.addEventListener("input", () => {
        if (node.type === "int") {
          node.value = input.value.replace(/\D/g, "").replace(/^0+(?=\d)/, "") || "0";
        } else {
          node.value = input.value;
        }
        this.changed(); // no redraw: the input keeps its focus and caret
      });
      box.append(input, this.tools(node, parent));
      return box;
    }

    tools(node, parent) {
      const tools = el("span", "lispish-tools");
      const index = parent ? parent.args.indexOf(node) : -1;
      const up = button("lispish-tool", "↑", "Move up",
        () => this.move(node, parent, -1));
      up.disabled = index <= 0;
      const down = button("lispish-tool", "↓", "Move down",
        () => this.move(node, parent, 1));
      down.disabled = !parent || index >= parent.args.length - 1;
      const remove = button("lispish-tool lispish-delete", "✕", "Delete",
        () => this.remove(node, parent));
      tools.append(up, down, remove);
      return tools;
    }
  }

  function start() {
    for (const root of document.querySelectorAll("[data-lispish-editor]")) {
      if (!root.lispishEditor) root.lispishEditor = new Editor(root);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
