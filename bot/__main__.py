"""``python -m bot`` runs the ``tugboat`` command."""

from bot.cli.main import run

if __name__ == "__main__":
    run()
