#!/usr/bin/env bash
# Install TF-Keras into its own venv for the peer benchmark (never a project dependency).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python3 -m venv "$here/.venv-tf"
"$here/.venv-tf/bin/pip" install --quiet --upgrade pip
"$here/.venv-tf/bin/pip" install --quiet "tensorflow-cpu==2.21.*"
"$here/.venv-tf/bin/python" -c "import tensorflow as tf; print('tensorflow', tf.__version__)"
