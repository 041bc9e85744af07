"""Drop repeated <script> tags from every page.

With Jupyter Book 1.0.4 and Sphinx 7.4, sphinx-togglebutton's and sphinx-thebe's inline
configuration scripts are added to each page twice; the second ``const THEBE_JS_URL = ...``
is a JavaScript error ("Identifier 'THEBE_JS_URL' has already been declared"), which the
browser tests catch. This keeps the first of identical scripts.
"""


def _dedupe(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        key = (str(getattr(script, "filename", script) or ""),  # None and "" both mean inline
               tuple(sorted((k, str(v)) for k, v in getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


def setup(app):
    app.connect("html-page-context", _dedupe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
