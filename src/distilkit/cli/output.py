"""What commands print when they finish: scores of a trained model, tag metrics, general-distillation summaries."""

from __future__ import annotations

from distilkit.cli.app import console


def print_scores(result: dict) -> None:
    """The scores per split, how many texts of each split were longer than --max-length, and where the model is."""
    for split, m in result["metrics"].items():
        shown = [(name, key) for name, key in SCORE_NAMES if key in m]
        console.print(f"{split}: " + "  ".join(f"{name} {m[key]:.4f}" for name, key in shown))
    for split, report in (result.get("long_text") or {}).get("splits", {}).items():
        print_long_text(report, f"{split} texts")
    console.print(f"model saved to {result['model']}")


def print_long_text(report: dict, what: str) -> None:
    """One `LongTextReport` line, printed as plain text (its numbers are not markup) and unwrapped, so that it stays
    one line to grep in a log."""
    from distilkit.core.long_text import report_line

    console.print(report_line(report, what), markup=False, highlight=False, soft_wrap=True)


SCORE_NAMES = (("accuracy", "accuracy"), ("macro-F1", "macro_f1"), ("entity-F1", "f1"))


def print_tag_metrics(title: str, metrics: dict) -> None:
    from rich.table import Table

    if "per_type" not in metrics:
        console.print(f"{title}: token accuracy {metrics['accuracy']:.4f} over {metrics['words']} words")
        return
    table = Table(
        title=f"{title}: entity P {metrics['precision']:.4f} R {metrics['recall']:.4f} F1 {metrics['f1']:.4f} "
        f"(macro-F1 {metrics['macro_f1']:.4f}), token accuracy {metrics['accuracy']:.4f}"
    )
    for col in ("type", "precision", "recall", "f1", "support"):
        table.add_column(col)
    for name, m in metrics["per_type"].items():
        table.add_row(name, f"{m['precision']:.4f}", f"{m['recall']:.4f}", f"{m['f1']:.4f}", str(m["support"]))
    console.print(table)
