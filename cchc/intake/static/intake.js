// A form marked data-once is sent once: its button is disabled while the upload runs, so a
// double click does not send it twice (the server also recognises a repeated upload).
document.querySelectorAll("form[data-once]").forEach(function (form) {
  form.addEventListener("submit", function () {
    form.querySelectorAll("button[type=submit]").forEach(function (button) {
      button.disabled = true;
      button.textContent = "Đang gửi…";
    });
  });
});
