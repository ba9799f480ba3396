// The drawing page: a digit pad with live predictions, an image upload, and the logistic model.
// No dependencies; the one non-trivial piece, toMnistPixels, is a pure function the tests call directly.

const SIDE = 28; // the model's input: 28x28
const BOX = 20; // MNIST fitted each digit's bounding box into 20x20 before centring it in 28x28
const PAD_CSS_SIZE = 280;
const STROKE_WIDTH = 22; // at 280 px, about 2 px after the fit into 20x20, like MNIST's pen
const PREDICT_INTERVAL_MS = 120; // at most one request per interval while drawing
const KEY_STORAGE = "serve-api-key";

/**
 * Ink as MNIST's digits were made: fit the bounding box of the ink into 20x20 (aspect ratio kept,
 * area-averaged so edges come out grey), then shift it so its centre of mass sits at the centre of 28x28.
 * @param {ArrayLike<number>} ink  width*height values, row by row, 0 (paper) .. 255 (full ink)
 * @returns {number[][] | null}  28 rows of 28 integers 0..255, white on black; null when there is no ink
 */
export function toMnistPixels(ink, width, height) {
  let left = width, right = -1, top = height, bottom = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (ink[y * width + x] > 0) {
        if (x < left) left = x;
        if (x > right) right = x;
        if (y < top) top = y;
        if (y > bottom) bottom = y;
      }
    }
  }
  if (right < 0) return null;
  const boxW = right - left + 1, boxH = bottom - top + 1;
  const scale = BOX / Math.max(boxW, boxH);
  const outW = Math.max(1, Math.round(boxW * scale)), outH = Math.max(1, Math.round(boxH * scale));

  // Separable area averaging: rows first, then columns.
  const colWeights = coverage(boxW, outW), rowWeights = coverage(boxH, outH);
  const narrowed = new Float64Array(boxH * outW);
  for (let y = 0; y < boxH; y++) {
    const row = (top + y) * width + left;
    colWeights.forEach((taps, ox) => {
      let sum = 0;
      for (const [x, w] of taps) sum += ink[row + x] * w;
      narrowed[y * outW + ox] = sum;
    });
  }
  const glyph = new Float64Array(outH * outW);
  rowWeights.forEach((taps, oy) => {
    for (let ox = 0; ox < outW; ox++) {
      let sum = 0;
      for (const [y, w] of taps) sum += narrowed[y * outW + ox] * w;
      glyph[oy * outW + ox] = sum;
    }
  });

  // Centre of mass, in pixel-centre coordinates, moved to the middle of the 28x28 field by a whole-pixel
  // shift; clamped so that the glyph never leaves the field.
  let mass = 0, massX = 0, massY = 0;
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      const v = glyph[y * outW + x];
      mass += v; massX += v * (x + 0.5); massY += v * (y + 0.5);
    }
  }
  const clamp = (v, hi) => Math.min(Math.max(v, 0), hi);
  const offsetX = clamp(Math.round(SIDE / 2 - massX / mass), SIDE - outW);
  const offsetY = clamp(Math.round(SIDE / 2 - massY / mass), SIDE - outH);
  const pixels = Array.from({ length: SIDE }, () => new Array(SIDE).fill(0));
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      pixels[y + offsetY][x + offsetX] = Math.min(255, Math.round(glyph[y * outW + x]));
    }
  }
  return pixels;
}

/** For each of `outSize` cells over `inSize` source pixels: [sourceIndex, weight] pairs summing to 1. */
function coverage(inSize, outSize) {
  const step = inSize / outSize;
  return Array.from({ length: outSize }, (_, i) => {
    const start = i * step, end = start + step, taps = [];
    for (let j = Math.floor(start); j < Math.min(Math.ceil(end), inSize); j++) {
      const overlap = Math.min(end, j + 1) - Math.max(start, j);
      if (overlap > 0) taps.push([j, overlap / step]);
    }
    return taps;
  });
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
  const digit = document.getElementById("digit");
  const caption = document.getElementById("digit-caption");
  const bars = document.getElementById("bars");
  const error = document.getElementById("digit-error");
  const upload = document.getElementById("upload");

  const ratio = window.devicePixelRatio || 1;
  pad.width = pad.height = Math.round(PAD_CSS_SIZE * ratio);
  const ctx = pad.getContext("2d", { willReadFrequently: true });
  ctx.scale(ratio, ratio);
  ctx.lineCap = ctx.lineJoin = "round";
  ctx.lineWidth = STROKE_WIDTH;
  ctx.strokeStyle = ctx.fillStyle = "#fff";

  const barCells = Array.from({ length: 10 }, (_, d) => {
    const item = document.createElement("li");
    item.className = "bar";
    item.innerHTML = `<span class="fill"></span><span class="name">${d}</span>`;
    bars.append(item);
    return item;
  });

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
  };
  const fail = (id, err) => {
    if (id < shown) return;
    shown = id;
    showError(error, err);
  };
  const reset = (message) => {
    shown = ++issued; // anything still in flight is now stale
    digit.textContent = "–";
    digit.dataset.state = "empty";
    caption.textContent = message;
    for (const cell of barCells) {
      delete cell.dataset.probability;
      cell.classList.remove("top");
      cell.querySelector(".fill").style.setProperty("--p", "0");
    }
    preview.getContext("2d").clearRect(0, 0, SIDE, SIDE);
    showError(error, null);
  };

  const predictDrawing = () => {
    const { data, width, height } = ctx.getImageData(0, 0, pad.width, pad.height);
    const ink = new Uint8ClampedArray(width * height);
    for (let i = 0; i < ink.length; i++) ink[i] = data[4 * i + 3]; // strokes are drawn on a transparent pad
    const pixels = toMnistPixels(ink, width, height);
    if (!pixels) return;
    drawPreview(preview, pixels);
    const id = ++issued;
    postJson("/predict/mnist/pixels", { pixels })
      .then((body) => render(id, body.predictions[0], `from your drawing · mnist ${body.model.version}`))
      .catch((err) => fail(id, err));
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
    reset("Draw a digit on the black square.");
  });

  upload.addEventListener("change", async () => {
    const file = upload.files[0];
    if (!file) return;
    ctx.clearRect(0, 0, PAD_CSS_SIZE, PAD_CSS_SIZE);
    reset(`Reading ${file.name}…`);
    const id = ++issued;
    const form = new FormData();
    form.append("file", file, file.name);
    upload.value = ""; // so that choosing the same file again fires another change
    createImageBitmap(file)
      .then((bitmap) => drawBitmapPreview(preview, bitmap))
      .catch(() => {}); // the API says what is wrong with a file the browser cannot draw
    try {
      const body = await callApi("/predict/mnist?invert=auto", { method: "POST", body: form });
      render(id, body.predictions[0], `from ${file.name} · mnist ${body.model.version}`);
    } catch (err) {
      fail(id, err);
    }
  });
}

function drawPreview(canvas, pixels) {
  const image = new ImageData(SIDE, SIDE);
  pixels.flat().forEach((v, i) => image.data.set([v, v, v, 255], 4 * i));
  canvas.getContext("2d").putImageData(image, 0, 0);
}

function drawBitmapPreview(canvas, bitmap) {
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = true;
  ctx.clearRect(0, 0, SIDE, SIDE);
  ctx.drawImage(bitmap, 0, 0, SIDE, SIDE);
}

// --- the logistic model -----------------------------------------------------------------------------

function setUpLogistic() {
  const x1 = document.getElementById("x1"), x2 = document.getElementById("x2");
  const probability = document.getElementById("probability");
  const meter = document.getElementById("probability-meter");
  const label = document.getElementById("label");
  const error = document.getElementById("logistic-error");
  let issued = 0, timer = null;

  const predict = async () => {
    if (x1.value === "" || x2.value === "") {
      showError(error, "enter two numbers, x1 and x2");
      return;
    }
    const id = ++issued;
    try {
      const body = await postJson("/predict/logistic", { features: [Number(x1.value), Number(x2.value)] });
      if (id !== issued) return; // a newer request is on its way
      const { probability: p, label: y } = body.predictions[0];
      probability.textContent = p.toFixed(4);
      probability.dataset.value = String(p);
      meter.value = p;
      label.textContent = String(y);
      showError(error, null);
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
  setUpLogistic();
}
