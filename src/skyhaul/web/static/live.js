// Keeping a page live: Server-Sent Events, with a 500 ms polling fallback that goes back
// to the stream when it can.
//
// Rules:
// - The stream first. When it cannot be opened or breaks, it is closed (the browser would
//   otherwise retry it on its own) and the JSON API is polled every 500 ms; every ~5 s the
//   stream is tried again, and polling stops as soon as it opens.
// - Each event (or poll) carries the whole document as it is now, so a page that
//   reconnects resumes from the current snapshot, never from zero.
// - `event: end` (or a poll answer `isFinal` accepts) ends the following: the thing is
//   finished and nothing will change.
// - <body data-transport> says which channel is in use now ("sse" or "polling"); the
//   header shows it to the operator.

export const POLL_MS = 500;
export const RETRY_STREAM_MS = 5000;

const TRANSPORT_TEXT = {
  connecting: "connecting…",
  sse: "live (push)",
  polling: "live (polling)",
  ended: "finished",
};

function showTransport(name) {
  // "ended" only changes what the operator reads: the attribute keeps the last channel.
  if (name !== "ended") document.body.dataset.transport = name;
  const badge = document.getElementById("live-status");
  if (badge) {
    badge.textContent = TRANSPORT_TEXT[name] ?? name;
    badge.className = `live-status ${name}`;
  }
}

export function follow({ stream, event, poll, onData, isFinal = () => false, onEnd = () => {} }) {
  let source = null;
  let pollTimer = null;
  let retryTimer = null;
  let stopped = false;

  const deliver = (doc) => {
    if (stopped) return;
    onData(doc);
  };

  const stop = () => {
    stopped = true;
    source?.close();
    source = null;
    clearTimeout(pollTimer);
    clearTimeout(retryTimer);
    pollTimer = retryTimer = null;
    showTransport("ended");
    onEnd();
  };

  const pollOnce = async () => {
    pollTimer = null;
    if (stopped || source?.readyState === EventSource.OPEN) return;
    try {
      const response = await fetch(poll, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (response.ok) {
        const doc = await response.json();
        deliver(doc);
        if (isFinal(doc)) {
          stop();
          return;
        }
      }
    } catch {
      // The server is away: keep polling, the next answer catches up.
    }
    if (!stopped && pollTimer === null && source?.readyState !== EventSource.OPEN) {
      pollTimer = setTimeout(pollOnce, POLL_MS);
    }
  };

  const startPolling = () => {
    showTransport("polling");
    if (pollTimer === null) pollTimer = setTimeout(pollOnce, 0);
  };

  const stopPolling = () => {
    clearTimeout(pollTimer);
    pollTimer = null;
  };

  const openStream = () => {
    retryTimer = null;
    if (stopped) return;
    let opened;
    try {
      opened = new EventSource(stream);
    } catch {
      startPolling();
      retryTimer = setTimeout(openStream, RETRY_STREAM_MS);
      return;
    }
    source = opened;
    opened.addEventListener("open", () => {
      if (source !== opened) return;
      stopPolling();
      showTransport("sse");
    });
    opened.addEventListener(event, (e) => {
      if (source !== opened) return;
      // A stream that delivers is open even if "open" was missed.
      stopPolling();
      showTransport("sse");
      deliver(JSON.parse(e.data));
    });
    opened.addEventListener("end", () => {
      if (source !== opened) return;
      stop();
    });
    opened.addEventListener("error", () => {
      if (source !== opened || stopped) return;
      opened.close();
      source = null;
      startPolling();
      if (retryTimer === null) retryTimer = setTimeout(openStream, RETRY_STREAM_MS);
    });
  };

  if (typeof EventSource === "undefined") {
    startPolling();
  } else {
    showTransport("connecting");
    openStream();
  }
  return { stop };
}
