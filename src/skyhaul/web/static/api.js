// Talking to the JSON API: the CSRF header on every state-changing request, errors
// shown in the page's banner as the server's one line.

const csrf = document.querySelector('meta[name="csrf-token"]')?.content ?? "";

export class ApiError extends Error {}

export async function api(method, url, body) {
  const headers = { Accept: "application/json" };
  const init = { method, headers, credentials: "same-origin" };
  if (method !== "GET") headers["X-CSRF-Token"] = csrf;
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (err) {
    throw new ApiError(`the server cannot be reached (${err.message})`);
  }
  if (response.status === 401) {
    // The session ended: the login form brings the operator back here.
    location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
    throw new ApiError("log in first");
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    if (response.ok) throw new ApiError(`${url}: the answer is not JSON`);
  }
  if (!response.ok) {
    const message = data && typeof data.error === "string" ? data.error : `HTTP ${response.status}`;
    throw new ApiError(message);
  }
  return data;
}

export const getJSON = (url) => api("GET", url);
export const postJSON = (url, body) => api("POST", url, body);

const flash = document.getElementById("flash");
flash?.querySelector(".flash-close")?.addEventListener("click", () => hideError());

export function showError(error) {
  if (!flash) return;
  const text = error instanceof Error ? error.message : String(error);
  flash.querySelector(".flash-text").textContent = text;
  flash.classList.remove("info");
  flash.hidden = false;
}

export function showInfo(text) {
  if (!flash) return;
  flash.querySelector(".flash-text").textContent = text;
  flash.classList.add("info");
  flash.hidden = false;
}

export function hideError() {
  if (flash) flash.hidden = true;
}

// Run an action from a button: disabled while it runs, its error shown.
export async function withButton(button, action) {
  button.disabled = true;
  try {
    return await action();
  } catch (err) {
    showError(err);
    return undefined;
  } finally {
    button.disabled = false;
  }
}
