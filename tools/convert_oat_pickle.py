"""Convert an OAT/MATR THUMOS14 feature pickle to per-video .npy files without running any code it holds.

    python tools/convert_oat_pickle.py thumos_all_feature_test_V3.pickle data/thumos_oat --annotations thumos14.json

See streammem.data.oat_pickle (the restricted unpickler admits numpy arrays and plain containers only).
"""

import sys

from streammem.data.oat_pickle import main

if __name__ == "__main__":
    sys.exit(main())
