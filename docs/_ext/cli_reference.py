"""A Sphinx directive that writes the command-line reference from linclass's own argparse
parser, so the page can never disagree with ``linclass --help``::

    ```{linclass-cli}
    ```
"""

from docutils import nodes
from sphinx.util.docutils import SphinxDirective


def _subcommands(parser):
    for action in parser._subparsers._group_actions:
        yield from action.choices.items()


class LinclassCli(SphinxDirective):
    has_content = False

    def run(self):
        from linclass.cli import build_parser

        parser = build_parser()
        out = []
        for name, sub in _subcommands(parser):
            section = nodes.section(ids=[f"cli-{name}"])
            section += nodes.title(text=f"linclass {name}")
            if sub.description:
                section += nodes.paragraph(text=sub.description)
            sub.prog = f"linclass {name}"
            section += nodes.literal_block(text=sub.format_usage().strip())
            items = nodes.definition_list()
            for action in sub._actions:
                if action.help in (None, "==SUPPRESS==") or action.dest == "help":
                    continue
                term = ", ".join(action.option_strings) or action.metavar or action.dest
                if action.option_strings and action.nargs != 0:
                    term += f" {action.metavar or action.dest.upper()}"
                text = action.help % {"default": action.default, "prog": sub.prog}
                if action.choices and not isinstance(action.choices, range):
                    text += f" (one of: {', '.join(map(str, action.choices))})"
                item = nodes.definition_list_item()
                item += nodes.term(text=term)
                item += nodes.definition("", nodes.paragraph(text=text))
                items += item
            section += items
            out.append(section)
        return out


def setup(app):
    app.add_directive("linclass-cli", LinclassCli)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
