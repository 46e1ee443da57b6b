// codelake catalog site: search over the build-time index, keyboard moves,
// and copy buttons. Everything else on the site works without this script.
"use strict";

(function () {
  const LIMIT = 50;

  // Copy buttons: the snippet's text to the clipboard; selected if that is refused.
  for (const button of document.querySelectorAll("button.copy")) {
    button.addEventListener("click", async () => {
      const code = document.getElementById(button.dataset.copy);
      const text = code.textContent;
      const label = button.textContent;
      try {
        await navigator.clipboard.writeText(text);
        button.textContent = "Copied";
      } catch (_) {
        const range = document.createRange();
        range.selectNodeContents(code);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        button.textContent = "Selected: press Ctrl+C";
      }
      setTimeout(() => { button.textContent = label; }, 1600);
    });
  }

  const input = document.getElementById("q");
  const results = document.getElementById("results");
  const status = document.getElementById("search-status");
  if (!input || !results || !Array.isArray(window.CODELAKE_SEARCH)) {
    return;
  }

  // Lower-cased once, at load, so that a keystroke only compares.
  const entries = window.CODELAKE_SEARCH.map((entry) => ({
    name: entry.n,
    href: entry.h,
    kind: entry.k,
    doc: entry.d,
    columns: entry.c,
    lowName: entry.n.toLowerCase(),
    lowColumns: entry.c.map((column) => column.toLowerCase()),
    lowText: (entry.d + " " + entry.t).toLowerCase(),
  }));

  // The score of one entry for every word, or 0 when a word matches nothing.
  function score(entry, words, matchedColumns, docWords) {
    let total = 0;
    for (const word of words) {
      let best = 0;
      const short = entry.lowName.slice(entry.lowName.indexOf(".") + 1);
      if (short === word || entry.lowName === word) best = 100;
      else if (short.startsWith(word)) best = 60;
      else if (entry.lowName.includes(word)) best = 40;
      for (let i = 0; i < entry.lowColumns.length; i++) {
        const column = entry.lowColumns[i];
        let hit = 0;
        if (column === word) hit = 50;
        else if (column.includes(word)) hit = 25;
        if (hit > 0) {
          matchedColumns.add(entry.columns[i]);
          best = Math.max(best, hit);
        }
      }
      if (best === 0 && entry.lowText.includes(word)) {
        best = 5;
        docWords.add(word);
      }
      if (best === 0) return 0;
      total += best;
    }
    return total;
  }

  function search(text) {
    const words = text.toLowerCase().split(/\s+/).filter(Boolean);
    const found = [];
    if (words.length > 0) {
      for (const entry of entries) {
        const columns = new Set();
        const docWords = new Set();
        const points = score(entry, words, columns, docWords);
        if (points > 0) found.push({ entry, points, columns, docWords });
      }
      found.sort((a, b) => b.points - a.points || (a.entry.name < b.entry.name ? -1 : 1));
    }
    return { words, found };
  }

  // Docs mark code with backticks, as in the pages; shown as <code>, never as HTML.
  function appendRich(element, text) {
    const pieces = text.split("`");
    // An odd count of backticks: the last one is a literal, as on the pages.
    const balanced = pieces.length % 2 === 1;
    pieces.forEach((piece, index) => {
      if (index % 2 === 1 && !balanced && index === pieces.length - 1) {
        element.append("`" + piece);
      } else if (index % 2 === 1) {
        const code = document.createElement("code");
        code.textContent = piece;
        element.append(code);
      } else if (piece) {
        element.append(piece);
      }
    });
  }

  function show(text) {
    const { words, found } = search(text);
    results.replaceChildren();
    if (words.length === 0) {
      status.textContent = "";
      return;
    }
    const shown = found.slice(0, LIMIT);
    const items = shown.map(({ entry, columns, docWords }) => {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = entry.href;
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = entry.name;
      link.append(name);
      if (entry.kind === "view") {
        const badge = document.createElement("span");
        badge.className = "badge view";
        badge.textContent = "view";
        link.append(" ", badge);
      }
      const reasons = [];
      if (columns.size > 0) {
        reasons.push((columns.size === 1 ? "column " : "columns ") + [...columns].slice(0, 6).join(", "));
      }
      if (docWords.size > 0) {
        reasons.push("its docs mention " + [...docWords].map((word) => `“${word}”`).join(", "));
      }
      if (reasons.length > 0) {
        const why = document.createElement("span");
        why.className = "why";
        why.textContent = reasons.join("; ");
        link.append(why);
      }
      const doc = document.createElement("span");
      doc.className = "doc";
      appendRich(doc, entry.doc);
      link.append(doc);
      item.append(link);
      return item;
    });
    results.append(...items);
    status.textContent =
      found.length === 0 ? "No table, column or doc matches." :
      found.length > LIMIT ? `${found.length} matches; the first ${LIMIT} shown.` :
      `${found.length} match${found.length === 1 ? "" : "es"}.`;
  }

  input.addEventListener("input", () => show(input.value));
  document.getElementById("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const first = results.querySelector("a");
    if (first) window.location.href = first.href;
  });

  // `/` focuses the search; arrows move between the box and the results.
  document.addEventListener("keydown", (event) => {
    const links = [...results.querySelectorAll("a")];
    const at = links.indexOf(document.activeElement);
    const typing = event.isComposing || event.ctrlKey || event.metaKey || event.altKey;
    if (event.key === "/" && !typing && document.activeElement !== input) {
      event.preventDefault();
      input.focus();
      input.select();
    } else if (event.key === "ArrowDown" && (document.activeElement === input || at >= 0)) {
      if (links.length === 0) return;
      event.preventDefault();
      links[Math.min(at + 1, links.length - 1)].focus();
    } else if (event.key === "ArrowUp" && at >= 0) {
      event.preventDefault();
      if (at === 0) input.focus(); else links[at - 1].focus();
    } else if (event.key === "Escape" && document.activeElement === input) {
      input.value = "";
      show("");
    }
  });

  // A search in the address (`index.html?q=l_shipdate`) runs on load.
  const initial = new URLSearchParams(window.location.search).get("q");
  if (initial) {
    input.value = initial;
    show(initial);
  } else if (input.value) {
    show(input.value);
  }
})();
