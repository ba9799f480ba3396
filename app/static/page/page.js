// The drawing page: a digit pad with live predictions, an image upload, the explanation of each decision,
// and the logistic model. No dependencies. Images are fitted by the server alone: the page shows its 28x28.

const SIDE = 28; // the model's input: 28x28
const PAD_CSS_SIZE = 280;
const STROKE_WIDTH = 22; // at 280 px, about 2 px once the server fits the drawing into 20x20, like MNIST's pen
const PREDICT_INTERVAL_MS = 120; // at most one request per interval while drawing
const KEY_STORAGE = "serve-api-key";
// Every digit prediction asks for the 28x28 the server made (there is no copy of that fit in this page)
// and for the exact explanation of the linear model's decision.
const MNIST_PREDICT = "/predict/mnist?include=input&include=explanation";

/** A diverging colour for v in [-1, 1]: blue for negative, white for 0, red for positive. */
export function diverging(v) {
  const t = Math.min(1, Math.abs(v));
  const [r, g, b] = v >= 0 ? [192, 57, 43] : [47, 95, 208];
  return [255 + (r - 255) * t, 255 + (g - 255) * t, 255 + (b - 255) * t].map(Math.round);
}

/**
 * Paint rows of values onto a canvas as a diverging map. Scaled by the 98th percentile of the magnitudes,
 * not the largest: a few extreme weights would otherwise wash every other pixel out to white.
 */
function paintMap(canvas, rows) {
  const height = rows.length, width = rows[0].length;
  const magnitudes = rows.flat().map(Math.abs).sort((a, b) => a - b);
  const scale = Math.max(1e-12, magnitudes[Math.floor(0.98 * (magnitudes.length - 1))]);
  const image = new ImageData(width, height);
  rows.flat().forEach((v, i) => image.data.set([...diverging(v / scale), 255], 4 * i));
  canvas.width = width;
  canvas.height = height;
  canvas.getContext("2d").putImageData(image, 0, 0);
}

// --- talking to the API -----------------------------------------------------------------------------

class ApiError extends Error {}

/** FastAPI's {"detail": ...}, a sentence or a list of {loc, msg}, as one readable line. */
function describeDetail(status, body) {
  const detail = body && body.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail.map((d) => (d.loc ? `${d.loc.join(".")}: ${d.msg}` : JSON.stringify(d))).join("; ");
  }
  return `the server answered ${status}`;
}

async function callApi(path, init) {
  const headers = new Headers(init.headers);
  const key = sessionStorage.getItem(KEY_STORAGE);
  if (key) headers.set("X-API-Key", key);
  let response;
  try {
    response = await fetch(path, { ...init, headers });
  } catch {
    throw new ApiError("cannot reach the server");
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const hint = response.status === 401 || response.status === 403 ? " (set an API key, top right)" : "";
    throw new ApiError(`${response.status}: ${describeDetail(response.status, body)}${hint}`);
  }
  return body;
}

const postJson = (path, payload) =>
  callApi(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(payload) });

function showError(element, error) {
  element.hidden = !error;
  element.textContent = error ? (error instanceof ApiError ? error.message : String(error)) : "";
}

// --- the digit pad ----------------------------------------------------------------------------------

function setUpDigitPad() {
  const pad = document.getElementById("pad");
  const preview = document.getElementById("preview");
  const heatmap = document.getElementById("heatmap");
  const heatmapClass = document.getElementById("heatmap-class");
  const heatmapNote = document.getElementById("heatmap-note");
  const digit = document.getElementById("digit");
  const caption = document.getElementById("digit-caption");
  const bars = document.getElementById("bars");
  const error = document.getElementById("digit-error");
  const upload = document.getElementById("upload");

  const ratio = window.devicePixelRatio || 1;
  pad.width = pad.height = Math.round(PAD_CSS_SIZE * ratio);
  const ctx = pad.getContext("2d");
  ctx.scale(ratio, ratio);
  ctx.lineCap = ctx.lineJoin = "round";
  ctx.lineWidth = STROKE_WIDTH;
  ctx.strokeStyle = ctx.fillStyle = "#fff"; // white ink on a transparent pad: the server reads either

  const barCells = Array.from({ length: 10 }, (_, d) => {
    const item = document.createElement("li");
    item.className = "bar";
    item.innerHTML = `<span class="fill"></span><span class="name">${d}</span>`;
    bars.append(item);
    return item;
  });

  let explanation = null; // the shown prediction's, for switching between predicted and runner-up
  const showExplanation = () => {
    if (!explanation) return;
    const part = explanation[heatmapClass.value];
    paintMap(heatmap, part.contributions);
    heatmap.dataset.digit = String(part.digit);
    const total = part.contributions.flat().reduce((a, b) => a + b, 0);
    heatmapNote.textContent = `(${part.digit}: ${part.baseline.toFixed(2)} for a blank image ` +
      `${total >= 0 ? "+" : "−"} ${Math.abs(total).toFixed(2)} from the ink = ${part.logit.toFixed(2)})`;
  };
  heatmapClass.addEventListener("change", showExplanation);

  const clearSeen = () => {
    preview.hidden = true;
    preview.removeAttribute("src");
    heatmap.getContext("2d").clearRect(0, 0, heatmap.width, heatmap.height);
    delete heatmap.dataset.digit;
    heatmapNote.textContent = "";
    explanation = null;
  };

  // Responses may come back out of order; only one newer than what is shown may replace it.
  let issued = 0, shown = 0;
  const render = (id, prediction, source) => {
    if (id < shown) return;
    shown = id;
    showError(error, null);
    digit.textContent = String(prediction.digit);
    digit.dataset.state = "ready";
    caption.textContent = source;
    prediction.probabilities.forEach((p, d) => {
      barCells[d].dataset.probability = String(p);
      barCells[d].title = `${d}: ${(100 * p).toFixed(1)}%`;
      barCells[d].classList.toggle("top", d === prediction.digit);
      barCells[d].querySelector(".fill").style.setProperty("--p", String(p));
    });
    preview.src = `data:image/png;base64,${prediction.input.png}`;
    preview.hidden = false;
    explanation = prediction.explanation;
    showExplanation();
  };
  const clearResult = (message) => {
    digit.textContent = "–";
    digit.dataset.state = "empty";
    caption.textContent = message;
    for (const cell of barCells) {
      delete cell.dataset.probability;
      cell.classList.remove("top");
      cell.querySelector(".fill").style.setProperty("--p", "0");
    }
    clearSeen();
  };
  const fail = (id, err, message) => {
    if (id < shown) return;
    shown = id;
    clearResult(message);
    showError(error, err);
  };
  const reset = (message) => {
    shown = ++issued; // anything still in flight is now stale
    clearResult(message);
    showError(error, null);
  };

  // ``id`` orders the answers: taken when the prediction is asked for, so a later upload or clear wins.
  const send = (file, name, source, failure, id = ++issued) => {
    const form = new FormData();
    form.append("file", file, name);
    return callApi(MNIST_PREDICT, { method: "POST", body: form })
      .then((body) => render(id, body.predictions[0], `${source} · mnist ${body.model.version}`))
      .catch((err) => fail(id, err, failure));
  };

  let inked = false;
  const predictDrawing = () => {
    if (!inked) return;
    // Numbered now: toBlob calls back later (much later on a busy machine), maybe after an upload began.
    const id = ++issued;
    pad.toBlob((blob) => send(blob, "drawing.png", "from your drawing", "Draw a digit on the black square.", id));
  };

  // Throttle: one request now, then at most one per interval, and always one after the last stroke.
  let timer = null, pending = false;
  const schedulePrediction = () => {
    if (timer) { pending = true; return; }
    predictDrawing();
    timer = setTimeout(() => {
      timer = null;
      if (pending) { pending = false; schedulePrediction(); }
    }, PREDICT_INTERVAL_MS);
  };

  let last = null, strokePointer = null;
  const point = (event) => {
    const rect = pad.getBoundingClientRect();
    return [
      (event.clientX - rect.left) * (PAD_CSS_SIZE / rect.width),
      (event.clientY - rect.top) * (PAD_CSS_SIZE / rect.height),
    ];
  };
  pad.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    if (last) return; // one stroke at a time: a second finger does not draw
    strokePointer = event.pointerId;
    pad.setPointerCapture(event.pointerId);
    last = point(event);
    ctx.beginPath(); // a dot, for a tap without movement
    ctx.arc(last[0], last[1], STROKE_WIDTH / 2, 0, 2 * Math.PI);
    ctx.fill();
    inked = true;
    schedulePrediction();
  });
  pad.addEventListener("pointermove", (event) => {
    if (!last || event.pointerId !== strokePointer) return;
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
    ctx.beginPath();
    ctx.moveTo(...last);
    for (const e of events.length ? events : [event]) {
      last = point(e);
      ctx.lineTo(...last);
    }
    ctx.stroke();
    schedulePrediction();
  });
  const endStroke = (event) => {
    if (!last || event.pointerId !== strokePointer) return;
    last = null;
    schedulePrediction();
  };
  pad.addEventListener("pointerup", endStroke);
  pad.addEventListener("pointercancel", endStroke);

  document.getElementById("clear").addEventListener("click", () => {
    ctx.clearRect(0, 0, PAD_CSS_SIZE, PAD_CSS_SIZE);
    inked = false;
    reset("Draw a digit on the black square.");
  });

  upload.addEventListener("change", () => {
    const file = upload.files[0];
    if (!file) return;
    ctx.clearRect(0, 0, PAD_CSS_SIZE, PAD_CSS_SIZE);
    inked = false;
    reset(`Reading ${file.name}…`);
    upload.value = ""; // so that choosing the same file again fires another change
    send(file, file.name, `from ${file.name}`, `Could not read ${file.name}.`);
  });
}

/** The ten weight templates of the softmax regression, each as a diverging map. */
async function showTemplates() {
  const list = document.getElementById("templates");
  try {
    const body = await callApi("/models/mnist/weights", { method: "GET" });
    list.replaceChildren(
      ...body.templates.map((template) => {
        const item = document.createElement("li");
        const canvas = document.createElement("canvas");
        canvas.dataset.digit = String(template.digit);
        canvas.setAttribute("aria-label", `weights of digit ${template.digit}`);
        paintMap(canvas, template.weights);
        item.append(canvas, String(template.digit));
        return item;
      }),
    );
  } catch (err) {
    list.replaceChildren(Object.assign(document.createElement("li"), { textContent: err.message }));
  }
}

// --- the logistic model -----------------------------------------------------------------------------

/**
 * The tutorial's picture: P(y=1) = sigmoid(w1 x1 + w2 x2 + b) as x1 varies, x2 held at its value, with this
 * input's point on it. w1 sets how steep the curve is; w2 x2 + b shifts it along x1.
 */
function drawSigmoid(canvas, weights, x1, x2, point) {
  const ctx = canvas.getContext("2d");
  const { width, height } = canvas;
  const pad = 28;
  ctx.clearRect(0, 0, width, height);
  const [w1, w2] = weights.features.map((f) => f.weight);
  const shift = w2 * x2 + weights.bias;
  // Centre the view on the curve's middle (where P = 0.5) and on the point, wide enough for both.
  const middle = w1 !== 0 ? -shift / w1 : x1;
  const span = Math.max(Math.abs(x1 - middle) * 1.3, w1 !== 0 ? 6 / Math.abs(w1) : 5, 1);
  const lo = Math.min(middle, x1) - span / 2, hi = Math.max(middle, x1) + span / 2;
  const sx = (x) => pad + ((x - lo) / (hi - lo)) * (width - 2 * pad);
  const sy = (p) => height - pad - p * (height - 2 * pad);
  ctx.strokeStyle = "#dde1e8";
  ctx.lineWidth = 1;
  for (const p of [0, 0.5, 1]) {
    ctx.beginPath(); ctx.moveTo(pad, sy(p)); ctx.lineTo(width - pad, sy(p)); ctx.stroke();
  }
  ctx.fillStyle = "#5d6677";
  ctx.font = "12px system-ui, sans-serif";
  ctx.fillText("1", 8, sy(1) + 4); ctx.fillText("0.5", 2, sy(0.5) + 4); ctx.fillText("0", 8, sy(0) + 4);
  ctx.fillText(`x1 from ${lo.toFixed(1)} to ${hi.toFixed(1)}`, width / 2 - 50, height - 8);
  ctx.strokeStyle = "#2f6fed";
  ctx.lineWidth = 2;
  ctx.beginPath();
  for (let i = 0; i <= 200; i++) {
    const x = lo + ((hi - lo) * i) / 200;
    const p = 1 / (1 + Math.exp(-(w1 * x + shift)));
    if (i === 0) ctx.moveTo(sx(x), sy(p)); else ctx.lineTo(sx(x), sy(p));
  }
  ctx.stroke();
  ctx.fillStyle = "#c0392b";
  ctx.beginPath();
  ctx.arc(sx(x1), sy(point.probability), 5, 0, 2 * Math.PI);
  ctx.fill();
  canvas.dataset.x = String(x1);
  canvas.dataset.p = String(point.probability);
}

function setUpLogistic() {
  const x1 = document.getElementById("x1"), x2 = document.getElementById("x2");
  const probability = document.getElementById("probability");
  const meter = document.getElementById("probability-meter");
  const label = document.getElementById("label");
  const error = document.getElementById("logistic-error");
  const curve = document.getElementById("sigmoid");
  const curveCaption = document.getElementById("sigmoid-caption");
  let issued = 0, timer = null;
  const weights = callApi("/models/logistic/weights", { method: "GET" }).catch(() => null);

  const predict = async () => {
    if (x1.value === "" || x2.value === "") {
      showError(error, "enter two numbers, x1 and x2");
      return;
    }
    const id = ++issued;
    const features = [Number(x1.value), Number(x2.value)];
    try {
      const body = await postJson("/predict/logistic?include=explanation", { features });
      if (id !== issued) return; // a newer request is on its way
      const prediction = body.predictions[0];
      const { probability: p, label: y, explanation } = prediction;
      probability.textContent = p.toFixed(4);
      probability.dataset.value = String(p);
      meter.value = p;
      label.textContent = String(y);
      showError(error, null);
      const signed = (v, first) => (v < 0 ? (first ? "−" : " − ") : first ? "" : " + ") + Math.abs(v).toFixed(2);
      const terms = explanation.contributions.map((c, i) => `${signed(c.contribution, i === 0)} (${c.feature})`);
      curveCaption.textContent = `logit z = ${terms.join("")}${signed(explanation.bias, false)} (bias) = ` +
        `${explanation.logit.toFixed(2)}; P(y=1) = sigmoid(z) = ${p.toFixed(4)}. ` +
        "The curve: P(y=1) as x1 varies with x2 held; w1 sets its steepness, w2·x2 + b shifts it.";
      const w = await weights;
      if (w && id === issued) drawSigmoid(curve, w, features[0], features[1], prediction);
    } catch (err) {
      if (id === issued) showError(error, err);
    }
  };
  for (const input of [x1, x2]) {
    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(predict, 150);
    });
  }
  document.getElementById("logistic-form").addEventListener("submit", (event) => {
    event.preventDefault();
    predict();
  });
  predict();
}

function setUpApiKey() {
  const input = document.getElementById("api-key");
  input.value = sessionStorage.getItem(KEY_STORAGE) || "";
  document.getElementById("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    else sessionStorage.removeItem(KEY_STORAGE);
    event.target.closest("details").open = false;
  });
}

if (typeof document !== "undefined" && document.getElementById("pad")) {
  setUpApiKey();
  setUpDigitPad();
  showTemplates();
  setUpLogistic();
}
