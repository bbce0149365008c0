// GraphiQL for gumshoe, fully offline: every script and stylesheet is served by gumshoe itself.
// URL parameters (shareable links): q = query, variables = JSON, headers = JSON.
(function () {
  "use strict";

  var EXAMPLE_QUERY = [
    "# gumshoe: the behavior graph over GraphQL.",
    "#",
    "# Authenticate first, unless the server runs with --no-auth: open the Headers",
    "# pane below and enter your api_token from the credentials file:",
    '#   {"Authorization": "Bearer <api_token>"}',
    "#",
    "# Run with Ctrl-Enter. The Docs and Explorer buttons on the left list every field.",
    "",
    "query Graphs {",
    "  caller { name accountId unrestricted }",
    "  graphs { arn adminAccountId createdTime }",
    "}",
    "",
  ].join("\n");

  var parameters = {};
  window.location.search
    .slice(1)
    .split("&")
    .forEach(function (entry) {
      var eq = entry.indexOf("=");
      if (eq >= 0) {
        parameters[decodeURIComponent(entry.slice(0, eq))] = decodeURIComponent(
          entry.slice(eq + 1).replace(/\+/g, " ")
        );
      }
    });

  function updateURL(data) {
    Object.assign(parameters, data);
    var search = Object.keys(parameters)
      .filter(function (key) {
        return Boolean(parameters[key]);
      })
      .map(function (key) {
        return encodeURIComponent(key) + "=" + encodeURIComponent(parameters[key]);
      })
      .join("&");
    history.replaceState(null, null, "?" + search);
  }

  // the page is served at the GraphQL endpoint itself; no subscriptions, so no websocket
  var fetcher = GraphiQL.createFetcher({ url: window.location.href.split("?")[0] });

  function GumshoeGraphiQL() {
    var query = React.useState(parameters.q || EXAMPLE_QUERY);
    var variables = React.useState(parameters.variables);
    var explorer = React.useMemo(function () {
      return GraphiQLPluginExplorer.explorerPlugin();
    }, []);
    return React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultEditorToolsVisibility: true,
      plugins: [explorer],
      query: query[0],
      variables: variables[0],
      headers: parameters.headers,
      defaultHeaders: '{\n  "Authorization": "Bearer <api_token>"\n}',
      onEditQuery: function (q) {
        query[1](q);
        updateURL({ q: q });
      },
      onEditVariables: function (v) {
        variables[1](v);
        updateURL({ variables: v });
      },
      inputValueDeprecation: true,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: true,
    });
  }

  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GumshoeGraphiQL)
  );
})();
