// Image and video answers (templates/_media.html): click or Enter on an image shows it large over the
// page (Escape, a click or Enter again closes it); videos in one battle get one play/pause for all,
// looping, restarted together so they stay in step.
(function () {
  "use strict";

  function closeOverlay(overlay, opener) {
    overlay.remove();
    if (opener) opener.focus();
  }

  function openOverlay(button) {
    var overlay = document.createElement("div");
    overlay.className = "media-overlay";
    overlay.setAttribute("role", "dialog");
    overlay.setAttribute("aria-modal", "true");
    overlay.setAttribute("aria-label", button.dataset.mediaAlt || "Image");
    overlay.tabIndex = -1;
    var label = document.createElement("div");
    label.className = "media-overlay-label";
    label.textContent = button.dataset.mediaAlt || "";
    var img = document.createElement("img");
    img.src = button.dataset.mediaEnlarge;
    img.alt = button.dataset.mediaAlt || "";
    overlay.appendChild(label);
    overlay.appendChild(img);
    overlay.addEventListener("click", function () { closeOverlay(overlay, button); });
    overlay.addEventListener("keydown", function (event) {
      if (event.key === "Escape" || event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        event.stopPropagation();
        closeOverlay(overlay, button);
      }
    });
    document.body.appendChild(overlay);
    overlay.focus();
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-media-enlarge]");
    if (button) {
      event.preventDefault();
      openOverlay(button);
    }
  });

  // One play/pause for every video of the battle or item; they restart together.
  function setUpVideos(root) {
    var container = root.querySelector(".sides, .responses");
    if (!container || container.dataset.videoSync) return;
    var videos = container.querySelectorAll(".media-video video");
    if (videos.length < 2) return;
    container.dataset.videoSync = "1";
    var bar = document.createElement("div");
    bar.className = "video-controls";
    var play = document.createElement("button");
    play.type = "button";
    play.textContent = "Play all";
    play.addEventListener("click", function () {
      var paused = videos[0].paused;
      videos.forEach(function (video) {
        if (paused) {
          video.currentTime = videos[0].currentTime;
          video.play();
        } else {
          video.pause();
        }
      });
      play.textContent = paused ? "Pause all" : "Play all";
    });
    bar.appendChild(play);
    container.parentNode.insertBefore(bar, container);
  }

  function markMedia(root) {
    root.querySelectorAll(".sides, .responses").forEach(function (grid) {
      if (grid.querySelector(".media-tile")) grid.classList.add("has-media");
    });
    setUpVideos(root);
  }

  document.addEventListener("DOMContentLoaded", function () { markMedia(document); });
  document.addEventListener("htmx:afterSettle", function (event) { markMedia(event.target.ownerDocument || document); });
})();
