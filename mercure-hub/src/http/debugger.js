// The debugger page of mercure-hub (--ui): subscribe and watch, publish.
// Everything received is written as text, never as HTML.
"use strict";
(() => {
  const hub = document.body.dataset.hub;
  const $ = (id) => document.getElementById(id);
  const lines = (text) =>
    text.split("\n").map((line) => line.trim()).filter((line) => line !== "");
  const MAX_SHOWN = 500;
  let source = null;

  function show(text) {
    const item = document.createElement("li");
    item.textContent = text;
    const list = $("events");
    list.prepend(item);
    while (list.children.length > MAX_SHOWN) {
      list.lastElementChild.remove();
    }
  }

  function stop() {
    if (source) {
      source.close();
      source = null;
    }
    $("subscribe").disabled = false;
    $("unsubscribe").disabled = true;
  }

  $("subscribe").addEventListener("click", () => {
    stop();
    const dialect = $("dialect").value;
    const url = new URL(hub, window.location.origin);
    for (const topic of lines($("topics").value)) {
      url.searchParams.append(dialect === "0.x" ? "topic" : "match", topic);
    }
    const last = $("last-event-id").value.trim();
    if (last !== "") {
      url.searchParams.set(dialect === "0.x" ? "lastEventID" : "last_event_id", last);
    }
    const token = $("subscriber-token").value.trim();
    if (token !== "" && dialect === "0.x") {
      url.searchParams.set("authorization", token);
    }
    source = new EventSource(url, { withCredentials: true });
    $("subscribe").disabled = true;
    $("unsubscribe").disabled = false;
    $("state").textContent = "Connecting…";
    source.onopen = () => {
      $("state").textContent = "Subscribed.";
    };
    source.onerror = () => {
      $("state").textContent =
        source && source.readyState === EventSource.CONNECTING
          ? "Reconnecting…"
          : "Closed by the hub (refused, or the token expired).";
    };
    const received = (event) => {
      show(`id: ${event.lastEventId}\ntype: ${event.type}\n${event.data}`);
    };
    source.onmessage = received;
    // Typed events (`type=` on publish) are not `message` events.
    for (const type of $("types").value.split(",")) {
      if (type.trim() !== "") {
        source.addEventListener(type.trim(), received);
      }
    }
  });

  $("unsubscribe").addEventListener("click", () => {
    stop();
    $("state").textContent = "Not subscribed.";
  });

  $("publish").addEventListener("click", async () => {
    const body = new URLSearchParams();
    for (const topic of lines($("publish-topics").value)) {
      body.append("topic", topic);
    }
    body.set("data", $("data").value);
    for (const name of ["id", "type"]) {
      const value = $(name).value.trim();
      if (value !== "") {
        body.set(name, value);
      }
    }
    if ($("private").checked) {
      body.set("private", "on");
    }
    const headers = {};
    const token = $("publisher-token").value.trim();
    if (token !== "") {
      headers.Authorization = `Bearer ${token}`;
    }
    $("published").textContent = "Publishing…";
    try {
      const response = await fetch(hub, {
        method: "POST",
        headers,
        body,
        credentials: "same-origin",
        redirect: "error",
      });
      const text = await response.text();
      $("published").textContent = response.ok
        ? `Published: ${text}`
        : `${response.status}: ${text}`;
    } catch (error) {
      $("published").textContent = `Failed: ${error}`;
    }
  });
})();
