"""The inbound SCIM 2.0 server: agencies' identity providers push their people and groups here.

Layout: ``models`` (tokens, IdP-side profile, groups, group-to-pool mappings and the seat grants
they drive), ``tokens`` (token services and bearer authentication with its rate limit),
``services`` (every SCIM write), ``grants`` (group-based seats), ``selectors`` (scoped reads),
``resources`` (the published schema, built with scim2-models, and JSON rendering), ``filters``
(SCIM filters to Django ``Q``), ``patch`` (PATCH requests applied through scim2-models),
``views`` and ``urls`` (the HTTP endpoints under /scim/v2/), ``pages`` (the agency admin pages).
"""
