"""Order of the gallery: from one recording to a deployed model."""

READING_ORDER = [
    "plot_recording_cycles.py",
    "plot_spectrograms_per_class.py",
    "plot_grouped_cross_validation.py",
    "plot_other_classifier.py",
    "plot_grid_search.py",
    "plot_recorder_audit.py",
    "plot_save_load_predict.py",
    "plot_command_line.py",
]


class ByReadingOrder:
    """Sort key for ``within_subsection_order``: listed scripts first, in order,
    then any other script by file name."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        if filename in READING_ORDER:
            return (0, READING_ORDER.index(filename), filename)
        return (1, 0, filename)

    def __repr__(self):
        return f"<{type(self).__name__}>"
