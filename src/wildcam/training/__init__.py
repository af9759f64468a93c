"""Model building for ``make models`` (needs torch: the ``.venv-train`` extra, never the runtime).

``yolox`` the teacher network; ``teacher`` its export, checks and int8; ``data`` the real frames
and their split; ``crops`` the students' dataset; ``students`` the tiny and medium networks,
training and pruning; ``common`` seeding, export, quantisation, timing; ``build`` the whole run
(manifest and model card via ``modelcard``).
"""
