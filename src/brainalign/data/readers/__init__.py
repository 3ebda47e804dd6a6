"""Built-in readers; importing this package registers them all."""

from brainalign.data.readers import (  # noqa: F401
    amigos,
    bids,
    dreamer,
    eegcvpr40,
    eegmat,
    eegmmidb,
    eegnb,
    fif,
    generic,  # the catch-all for any MNE-readable folder (Reader.catch_all: detected last)
    kaneshiro,
    smni,
    things_eeg2,
    thoughtviz,
    tuab,
    wfdb_records,
    xdf,
)
