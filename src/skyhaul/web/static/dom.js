// Building page pieces from data: text only (textContent), never markup from data.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function badge(state) {
  return el("span", { class: `badge state-${state}`, text: state });
}

export function setBar(bar, percent, state) {
  bar.dataset.percent = String(percent);
  bar.setAttribute("aria-valuenow", String(percent));
  bar.className = bar.className.replace(/\bstate-\S+/g, "").trim() + ` state-${state}`;
  let fill = bar.firstElementChild;
  if (!fill) {
    fill = el("span");
    bar.append(fill);
  }
  fill.style.width = `${percent}%`;
}

export function progressBar(percent, state) {
  const bar = el("div", { class: "bar", role: "progressbar", "aria-valuemin": 0, "aria-valuemax": 100 });
  setBar(bar, percent, state);
  return bar;
}

// Replace a table body's rows (keeps the element, so listeners on the table stay).
export function fillBody(table, rows) {
  table.tBodies[0].replaceChildren(...rows);
}
