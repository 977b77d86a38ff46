// Tells the server the reader's timezone: the browser's IANA name ("Europe/Lisbon") in the
// `tz` cookie, which fbsync/timezones.py activates for every request, so times and the activity
// heat map are in the reader's own hours. It takes effect from the next page (the login page
// sets it before anything else is seen). The server ignores a name it does not know.
(function () {
  "use strict";

  var zone = "";
  try {
    zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
  } catch (error) {
    return; // no Intl: the server's timezone applies, and every time says which one it is
  }
  // IANA names are letters, digits and / _ + -: nothing that needs quoting in a cookie.
  if (!/^[A-Za-z0-9_+\/-]{1,64}$/.test(zone)) {
    return;
  }
  if (document.cookie.split("; ").indexOf("tz=" + zone) !== -1) {
    return;
  }
  var secure = window.location.protocol === "https:" ? "; Secure" : "";
  document.cookie = "tz=" + zone + "; Path=/; Max-Age=31536000; SameSite=Lax" + secure;
})();
