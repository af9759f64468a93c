"""Print the exact versions of what pip installed into this environment (for requirements.lock).

Unlike ``pip freeze`` this leaves out the Python packages that ``ros-*`` wheels carry inside
them (``action_msgs``, ``rclpy``...): they are listed as distributions but no index serves them.
"""

from __future__ import annotations

from importlib.metadata import distributions

SKIP = {"pip", "setuptools", "wheel", "wildcam"}


def main() -> None:
    rows = {
        f"{d.metadata['Name']}=={d.version}"
        for d in distributions()
        if (d.read_text("INSTALLER") or "").strip() == "pip"
        and d.metadata["Name"].lower() not in SKIP
    }
    print("# Exact versions of everything `make setup` installs (regenerate: make lock).")
    print("\n".join(sorted(rows, key=str.lower)))


if __name__ == "__main__":
    main()
