// The live game page. The server owns the game (turns, timers, targets, correctness): this module
// only shows the latest state frame it received and sends the player's moves. Protocol: see the
// docstring of games/consumers.py; the state dict: games/selectors.py::game_state_for.

const CLOSE_FORBIDDEN = 4403; // not a player of this game (or the study was opened in another browser)
const CLOSE_REPLACED = 4409; // another tab of this player took over
const CLOSE_TOO_MANY_FRAMES = 4429; // this page sent far too many messages: reconnect, slowly
const MAX_BACKOFF_MS = 10000;
const ERROR_SHOWN_MS = 6000;
const TICK_MS = 250;

const root = document.getElementById("game");
const role = root.dataset.role;
const $ = (id) => document.getElementById(id);
const board = $("board");
const messageForm = $("message-form"); // speaker only
const messageInput = $("message");
const sendButton = $("send");
const submitButton = $("submit-selection"); // listener only

let socket = null;
let state = null; // the latest state frame
let deadline = null; // performance.now() at which the current phase's countdown reaches 0
let retries = 0;
let stopped = false; // no more reconnects: another tab took over, or we are not a player
let sentTurn = -1; // the turn this tab already sent a message (or a submit) for
let lastSent = ""; // restored into the field if the server refuses the message
let autoSentTurn = -1; // the turn whose draft went out when its time was up
let boardKey = ""; // the image order the tiles were built for
let chatKey = "";
let errorTimer = null;
let outcomeShown = false;
let shownSelection = new Set(); // the listener's selection as shown: the server's, plus clicks not yet confirmed

// --- connection ------------------------------------------------------------------------------

function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  socket = new WebSocket(`${scheme}//${location.host}${root.dataset.socketPath}`);
  socket.addEventListener("open", () => {
    retries = 0;
    setConnection("");
  });
  socket.addEventListener("message", (event) => onFrame(event.data));
  socket.addEventListener("close", (event) => onClose(event.code));
}

function onClose(code) {
  socket = null;
  if (code === CLOSE_FORBIDDEN) {
    stop("This game is not yours (or the study was opened again in another browser). "
      + "Please open the study from your task page.");
  } else if (code === CLOSE_REPLACED) {
    stop("This game is open in another tab or window. Please continue there.");
  } else if (code === CLOSE_TOO_MANY_FRAMES) {
    retries = Math.max(retries, 3); // the server cut this page off for sending too much: wait longer
  }
  if (stopped || (state && state.outcome)) return;
  // Back off exponentially (with jitter, so many players do not reconnect in lockstep).
  const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** retries) * (0.75 + Math.random() * 0.5);
  retries += 1;
  setConnection("Connection lost. Reconnecting…");
  setTimeout(connect, delay);
}

function stop(message) {
  if (stopped) return;
  stopped = true;
  setConnection(message, true);
  if (state) { // disable every control; the clock stops (tick checks `stopped`)
    renderBoard(state);
    renderControls(state);
  }
  tick();
}

function send(frame) {
  if (!socket || socket.readyState !== WebSocket.OPEN) {
    showError("Not connected right now; please wait a moment.");
    return false;
  }
  socket.send(JSON.stringify(frame));
  return true;
}

function onFrame(data) {
  let frame;
  try {
    frame = JSON.parse(data);
  } catch {
    return;
  }
  if (frame.type === "state") {
    // Frames of one socket arrive in order, but a reconnect may race an old one: keep the newest.
    if (state && frame.state.version < state.version) return;
    render(frame.state);
  } else if (frame.type === "error") {
    showError(frame.message);
    if (state && sentTurn === state.turn && (state.can_send || state.can_click)) {
      sentTurn = -1; // the move was refused: let the player try again (with their draft back)
      if (role === "speaker" && !messageInput.value) messageInput.value = lastSent;
      renderControls(state);
    }
  } else if (frame.type === "replaced") {
    stop("This game is open in another tab or window. Please continue there.");
  }
}

// --- rendering -------------------------------------------------------------------------------

function render(s) {
  state = s;
  deadline = s.seconds_left == null ? null : performance.now() + s.seconds_left * 1000;
  const played = s.outcome ? s.turn : s.turn + 1;
  $("turn-counter").textContent = `Turn ${Math.max(1, Math.min(played, s.max_turns))} of ${s.max_turns}`;
  renderBoard(s);
  renderChat(s.chat);
  renderControls(s);
  $("status").textContent = s.outcome ? "" : statusText(s);
  $("countdown-label").textContent = countdownLabel(s);
  renderOutcome(s);
  tick();
}

function renderBoard(s) {
  const key = s.images.map((image) => image.id).join("|");
  if (key !== boardKey) buildBoard(s.images);
  boardKey = key;
  const selected = new Set(s.selection || []);
  shownSelection = new Set(selected);
  const targets = new Set(s.targets || []); // only the speaker's state has targets
  const correct = new Set((s.feedback && s.feedback.correct) || []);
  const wrong = new Set((s.feedback && s.feedback.wrong) || []);
  for (const tile of board.children) {
    const id = tile.dataset.image;
    const badge = tile.querySelector(".badge");
    if (role === "speaker") {
      tile.classList.toggle("target", targets.has(id));
      tile.classList.toggle("correct", correct.has(id));
      tile.classList.toggle("wrong", wrong.has(id));
      // Icon + words as well as colour, so the frames do not rely on colour vision.
      badge.textContent = correct.has(id) ? "✓ Right" : wrong.has(id) ? "✗ Wrong" : targets.has(id) ? "Target" : "";
    } else {
      tile.classList.toggle("selected", selected.has(id));
      tile.setAttribute("aria-pressed", String(selected.has(id)));
      tile.disabled = !s.can_click || stopped;
      badge.textContent = selected.has(id) ? "✓ Selected" : "";
    }
  }
}

function buildBoard(images) {
  // Built once per game (the order never changes), so keyboard focus survives re-renders.
  board.replaceChildren(
    ...images.map((image) => {
      const tile = document.createElement(role === "listener" ? "button" : "div");
      tile.className = "tile";
      tile.dataset.image = image.id;
      if (role === "listener") {
        tile.type = "button";
        tile.setAttribute("aria-label", image.label);
        tile.setAttribute("aria-pressed", "false");
        tile.addEventListener("click", () => toggle(image.id));
      }
      const img = document.createElement("img");
      img.src = image.url;
      img.alt = image.label;
      img.draggable = false;
      const badge = document.createElement("span");
      badge.className = "badge";
      if (role === "listener") badge.setAttribute("aria-hidden", "true"); // aria-pressed says it
      tile.append(img, badge);
      return tile;
    }),
  );
}

function renderChat(chat) {
  const key = JSON.stringify(chat);
  if (key === chatKey) return;
  chatKey = key;
  const list = $("chat");
  const who = role === "speaker" ? "You" : "Speaker";
  list.replaceChildren(
    ...chat.map((message) => {
      const item = document.createElement("li");
      const meta = document.createElement("span");
      meta.className = "who";
      meta.textContent = `${who} · turn ${message.turn + 1}`;
      const text = document.createElement("p");
      text.textContent = message.text; // untrusted: text only, never HTML
      item.append(meta, text);
      return item;
    }),
  );
  list.scrollTop = list.scrollHeight;
}

function renderControls(s) {
  const over = Boolean(s.outcome) || stopped;
  if (role === "speaker") {
    const canWrite = s.can_send && !over && sentTurn !== s.turn;
    const wasDisabled = messageInput.disabled;
    messageInput.disabled = !canWrite;
    sendButton.disabled = !canWrite;
    messageInput.placeholder = over
      ? "The game is over."
      : canWrite
        ? "Describe the targets…"
        : s.phase === "listener" || sentTurn === s.turn
          ? "You have sent your message for this turn."
          : "You cannot send a message now.";
    // Put the cursor in the field when a writing turn starts, unless the player is elsewhere.
    const focusFree = !document.activeElement || document.activeElement === document.body;
    if (canWrite && wasDisabled && focusFree) messageInput.focus();
  } else {
    submitButton.disabled = !s.can_click || over || sentTurn === s.turn;
  }
}

const STATUS = {
  speaker: {
    first: "Your turn: write one message that helps your partner pick the targets (framed in black).",
    again: "Your partner chose the framed pictures: green ✓ are right, red ✗ are wrong. Write your next message.",
    wait: "Your partner is choosing pictures…",
  },
  listener: {
    first: "Wait for the speaker's first message.",
    // The game going on is all a listener learns: never which pictures are right.
    again: "Not all targets are chosen yet (maybe the speaker has not described every target). "
      + "Wait for the next message.",
    choose: "Read the speaker's message, press pictures to select or deselect them, then submit.",
  },
};

function statusText(s) {
  const text = STATUS[role];
  if (s.phase === "listener") return role === "speaker" ? text.wait : text.choose;
  return s.turn === 0 ? text.first : text.again;
}

function countdownLabel(s) {
  if (s.outcome) return "Game over";
  const mine = (role === "speaker") === (s.phase === "speaker");
  if (mine) return s.phase === "speaker" ? "Time to write" : "Time to choose";
  return "Partner's time";
}

const FAILURES = {
  turn_limit: ["Out of turns", "The game ended after the last turn without exactly the targets selected."],
  speaker_idle: ["Time ran out", "No message was sent in time, so the game ended."],
  listener_idle: ["Time ran out", "No selection was submitted in time, so the game ended."],
  cancelled: ["Game cancelled", "This game was cancelled."],
};

function renderOutcome(s) {
  const section = $("outcome");
  if (!s.outcome) {
    section.hidden = true;
    return;
  }
  const { success, reason, next_url: nextUrl } = s.outcome;
  let title;
  let text;
  if (success) {
    title = s.practice ? "Well done! Practice complete." : "Correct! You earned the success bonus.";
    text = role === "speaker"
      ? `Your partner picked exactly the targets in ${s.turn} ${s.turn === 1 ? "turn" : "turns"}.`
      : "You picked exactly the targets.";
  } else {
    [title, text] = FAILURES[reason] || ["Game over", "The game has ended."];
  }
  if (s.practice) {
    text += success
      ? " Back on the instructions page you can enter the lobby to be matched with a partner."
      : " You can start another practice game from the instructions page.";
  } else {
    text += " You are paid for the time you played.";
  }
  section.classList.toggle("success", Boolean(success));
  $("outcome-title").textContent = title;
  $("outcome-text").textContent = text;
  const next = $("outcome-next");
  next.href = nextUrl;
  next.textContent = s.practice ? "Back to the instructions" : "Continue to the survey";
  section.hidden = false;
  if (!outcomeShown) section.focus(); // tell keyboard and screen-reader users at once
  outcomeShown = true;
}

function setConnection(message, isError = false) {
  const line = $("connection");
  line.textContent = message;
  line.classList.toggle("problem", isError);
}

function showError(message) {
  const line = $("game-error");
  line.textContent = message;
  clearTimeout(errorTimer);
  errorTimer = setTimeout(() => { line.textContent = ""; }, ERROR_SHOWN_MS);
}

// --- countdown -------------------------------------------------------------------------------

function tick() {
  const clock = $("countdown");
  if (!state || deadline == null || state.outcome || stopped) {
    clock.textContent = "–:––";
    root.classList.remove("hurry");
    return;
  }
  const left = Math.max(0, (deadline - performance.now()) / 1000);
  const whole = Math.ceil(left);
  clock.textContent = `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
  root.classList.toggle("hurry", left <= 10);
  // As in the original game, a typed but unsent draft goes out when the time is up (once: if the
  // server refuses it as too late, the game is ending anyway).
  if (left <= 0 && role === "speaker" && autoSentTurn !== state.turn && messageInput.value.trim()) {
    autoSentTurn = state.turn;
    sendMessage();
  }
}

// --- moves -----------------------------------------------------------------------------------

function sendMessage() {
  const text = messageInput.value.trim();
  if (!text || !state || !state.can_send || stopped || sentTurn === state.turn) return;
  if (!send({ type: "utterance", turn: state.turn, text })) return;
  sentTurn = state.turn;
  lastSent = text;
  messageInput.value = "";
  renderControls(state);
}

function toggle(image) {
  if (!state || !state.can_click || stopped) return;
  // Say what the image should be afterwards, not "flip it": a frame the network delivers twice then
  // changes nothing the second time. Quick clicks build on what is shown, before the server confirms.
  const selected = !shownSelection.has(image);
  if (!send({ type: "toggle", turn: state.turn, image, selected })) return;
  if (selected) shownSelection.add(image); else shownSelection.delete(image);
  const tile = board.querySelector(`[data-image="${CSS.escape(image)}"]`);
  if (tile) {
    tile.classList.toggle("selected", selected);
    tile.setAttribute("aria-pressed", String(selected));
    tile.querySelector(".badge").textContent = selected ? "✓ Selected" : "";
  }
}

function submitSelection() {
  if (!state || !state.can_click || stopped || sentTurn === state.turn) return;
  if (send({ type: "submit", turn: state.turn })) {
    sentTurn = state.turn;
    renderControls(state);
  }
}

if (messageForm) {
  // A form, so Enter in the field sends as well as the button.
  messageForm.addEventListener("submit", (event) => {
    event.preventDefault();
    sendMessage();
  });
}
if (submitButton) submitButton.addEventListener("click", submitSelection);

// Background tabs throttle timers and may miss frames: ask for the full state when shown again.
document.addEventListener("visibilitychange", () => {
  if (!document.hidden && socket && socket.readyState === WebSocket.OPEN) socket.send('{"type":"sync"}');
});

setInterval(tick, TICK_MS);
connect();
