"""The handout's code cells (source/A0.ipynb), as scan.code_fingerprint sees them: an upload whose A0.ipynb is
still the untouched handout has its work in another notebook. project_tests check this against source/A0.ipynb."""

HANDOUT_CODE = "920959f6cd3f284fa4b728041b49c918406cbf2e5f4a9721b3154ecbc23dc9a8"
