"""Package discovery lives here only because pyproject.toml cannot map folders to packages
while also auto-discovering: prompts/ and tools/ sit at the repository root (where users
edit them) and ship inside the wheel as the packages ``bot.prompts`` and ``bot.toolsets``."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages(include=["bot", "bot.*"]), "bot.prompts", "bot.toolsets"],
    package_dir={"bot.prompts": "prompts", "bot.toolsets": "tools"},
    package_data={
        "bot": ["py.typed"],
        "bot.prompts": ["*.md", "*.txt"],
        "bot.toolsets": ["*.yaml"],
        "bot.demo": ["data/*", "data/**/*"],
        "bot.adapters.store": ["migrations/*", "migrations/**/*"],
    },
)
