// The lobby: ask the server every 2 s where this participant stands. The server matches partners
// and times out the wait; the page only shows the waited time and follows `next_url`.

const POLL_MS = 2000;
const status = document.getElementById("lobby-status");
const waitedLine = document.getElementById("lobby-waited");
const url = status.dataset.statusUrl;

let waited = null; // seconds waited at the last answer, per the server
let answeredAt = 0; // performance.now() of that answer
let timeout = null;

const clock = (seconds) => {
  const whole = Math.max(0, Math.floor(seconds));
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
};

function showWaited() {
  if (waited === null) return;
  const now = waited + (performance.now() - answeredAt) / 1000;
  // Not in the live region: a screen reader should not read the clock every second.
  waitedLine.textContent = `Waiting for ${clock(now)}${timeout ? ` (at most ${clock(timeout)})` : ""}`;
}

async function poll() {
  try {
    const response = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
    if (!response.ok) throw new Error(`status ${response.status}`);
    const answer = await response.json();
    if (answer.next_url) {
      status.textContent = answer.state === "matched"
        ? "Partner found! Starting the game…"
        : "Taking you to the next step…";
      location.assign(answer.next_url);
      return; // no more polling: the page is going away
    }
    waited = answer.waited_seconds;
    timeout = answer.timeout_seconds;
    answeredAt = performance.now();
    status.textContent = "Looking for a partner…";
    showWaited();
  } catch {
    status.textContent = "Connection problem; still trying…";
  }
  setTimeout(poll, POLL_MS); // after the answer, so slow answers never pile up
}

setInterval(showWaited, 1000);
poll();
