// The live booking page: ask the web app for the saga's state a few times a second and
// show it. Text only goes in through textContent, so nothing a user typed can run as code.
"use strict";

(function () {
  const live = document.getElementById("live");
  if (!live) {
    return;
  }
  const liveViewUrl = live.dataset.liveViewUrl;
  const POLL_MS = 400; // at least twice a second
  const SLOW_POLL_MS = 2000; // when the run has ended but no worker told us its last state
  const REQUEST_TIMEOUT_MS = 6000;

  function capitalize(text) {
    return text.charAt(0).toUpperCase() + text.slice(1);
  }

  function show(element, text) {
    element.textContent = text || "";
    element.hidden = !text;
  }

  function renderStep(step) {
    const item = document.getElementById("step-" + step.service);
    // "unknown": the worker could not be asked; keep showing what it last said.
    if (!item || (step.badge === "unknown" && !item.classList.contains("state-unknown"))) {
      return;
    }
    item.className = "step state-" + step.badge;
    item.querySelector(".step-item").textContent = step.item;
    item.querySelector(".step-state").textContent = step.label;
    item.querySelector(".step-detail").textContent = step.detail;
  }

  function renderUndoOrder(services) {
    const list = document.getElementById("undo-order");
    const entries = services.map(function (service) {
      const entry = document.createElement("li");
      entry.textContent = capitalize(service) + " undone";
      return entry;
    });
    list.replaceChildren.apply(list, entries);
    document.getElementById("undo").hidden = services.length === 0;
  }

  function render(view) {
    const headline = document.getElementById("headline");
    headline.textContent = view.headline;
    headline.className = "headline tone-" + view.tone;
    const error = document.getElementById("error");
    document.getElementById("error-text").textContent = view.why || "";
    error.hidden = !view.why;
    show(document.getElementById("notice"), view.notice);
    view.steps.forEach(renderStep);
    renderUndoOrder(view.undo_order);
    live.dataset.execution = view.execution;
    live.dataset.outcome = view.outcome || "";
    live.dataset.finished = view.finished ? "true" : "false";
  }

  // How long until the next poll, or null to stop.
  async function poll() {
    const problem = document.getElementById("connection-problem");
    const controller = new AbortController();
    const timer = setTimeout(function () { controller.abort(); }, REQUEST_TIMEOUT_MS);
    try {
      const response = await fetch(liveViewUrl, {
        cache: "no-store",
        headers: { Accept: "application/json" },
        signal: controller.signal,
      });
      const body = await response.json();
      if (!response.ok) {
        show(problem, body.error);
        return response.status === 404 ? null : SLOW_POLL_MS;
      }
      show(problem, "");
      render(body);
      if (!body.finished) {
        return POLL_MS;
      }
      return body.answered ? null : SLOW_POLL_MS;
    } catch (failure) {
      show(problem, "This page lost contact with the web app (is run_workflow.py running?). Trying again…");
      return SLOW_POLL_MS;
    } finally {
      clearTimeout(timer);
    }
  }

  async function keepPolling() {
    const started = Date.now();
    const delay = await poll();
    if (delay !== null) {
      // Counted from the start of this request, so a slow answer does not slow the pace.
      setTimeout(keepPolling, Math.max(50, delay - (Date.now() - started)));
    }
  }

  if (live.dataset.finished !== "true" || live.dataset.answered !== "true") {
    setTimeout(keepPolling, POLL_MS);
  }
})();
