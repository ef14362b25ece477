document.addEventListener("DOMContentLoaded", () => {
  document.querySelector("main").dataset.ready = "yes";
});
