// Starts Swagger UI (shipped beside this file) on this API's OpenAPI document. The page is
// served under a Content-Security-Policy that allows scripts and styles from this origin only;
// each violation is counted on <body data-csp-violations> (the browser test reads it).
"use strict";

let violations = 0;
document.addEventListener("securitypolicyviolation", () => {
  violations += 1;
  document.body.dataset.cspViolations = String(violations);
});

window.ui = SwaggerUIBundle({
  // Relative to the page, so that a proxy's root path needs nothing more.
  url: new URL("openapi.json", document.baseURI).href,
  dom_id: "#swagger-ui",
  deepLinking: true,
  // No third-party validator badge: nothing leaves this origin.
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
