"""The sandbox forge: a local, GitHub-compatible forge served by ``server``.

Its modules are layered, each importing (lazily or not) only modules below it: at the bottom
``http``, ``clock``, ``admin`` and ``forge`` (documents, git repositories, hook registries);
then the model: ``people``, ``gitdata``, ``render``, ``runs`` (helpers about one run),
``actions`` (workflows, the life of runs), ``checks`` (what a commit's statuses and check
runs say), ``protection``; then the REST ``api_*`` modules and ``git_http``; then
``effects`` and ``automerge``, built on them; then ``graphql_schema`` and ``api_graphql``;
``server`` on top (``services``, the other sites, stands apart on ``http``). A lower module
that must set off a higher one's work (a push or a published release starts workflows, a
succeeded run applies its effects, a new status, review or rule lets auto-merge sweep) fires
a ``forge`` hook that the higher module registers when imported; the server imports every
such module before serving (``server.load_api_modules``).
"""
