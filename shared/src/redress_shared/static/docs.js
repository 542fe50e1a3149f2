// Starts Swagger UI on the Redress docs pages. It lives in a file, not an inline script, so
// the pages' content security policy (script-src 'self') holds.
"use strict";

(function startSwaggerUi() {
  const root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    domNode: root,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    deepLinking: true,
    // Authorise once: the key is kept (in this browser only) across reloads and sections.
    persistAuthorization: true,
    tryItOutEnabled: true,
    displayRequestDuration: true,
    filter: true,
    docExpansion: "list",
    defaultModelsExpandDepth: -1,
    // Never send the document to a public validator: the docs work with no internet.
    validatorUrl: null,
  });
})();
