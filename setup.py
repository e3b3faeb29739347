"""Package discovery lives here only because pyproject.toml cannot map folders to packages
while also auto-discovering: prompts/ and tools/ sit at the repository root (where users
edit them) and ship inside the wheel as the packages ``bot.prompts`` and ``bot.toolsets``."""

from setuptools import find_namespace_packages, setup

setup(
    # namespace discovery also picks up data-only folders (demo data, migration scripts)
    packages=[
        *find_namespace_packages(include=["bot", "bot.*"], exclude=["*.__pycache__"]),
        "bot.prompts",
        "bot.toolsets",
    ],
    package_dir={"bot.prompts": "prompts", "bot.toolsets": "tools"},
    package_data={
        "bot": ["py.typed"],
        "bot.prompts": ["*.md", "*.txt"],
        "bot.toolsets": ["*.yaml"],
        "bot.demo.data": ["*"],
        "bot.adapters.store.migrations": ["*.py", "*.mako"],
        "bot.adapters.store.migrations.versions": ["*.py"],
    },
)
