/* Announcements: a dismissed banner stays away; reading the page counts as seen. */
(function () {
  "use strict";
  function seen(id) {
    document.cookie = `announcements_seen=${Number(id)}; path=/; max-age=31536000; SameSite=Lax`;
  }
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-dismiss-announcement]");
    if (!button) return;
    seen(button.dataset.dismissAnnouncement);
    button.closest(".announcement-banner").remove();
  });
  function markNewest() {
    const newest = document.querySelector("[data-newest-announcement]");
    if (newest) seen(newest.dataset.newestAnnouncement);
  }
  document.addEventListener("DOMContentLoaded", markNewest);
  document.addEventListener("htmx:afterSwap", markNewest);
})();
