# Sourced by run.sh and sweep.sh on the GPU machine, from the repository root: the Vulkan loader and NVIDIA's ICD,
# Node and the bundle from .device/ unpacked into $w, VIREO_PYTHON; sets $w and $node.
# The Vulkan loader (Dawn dlopens libvulkan.so.1) and NVIDIA's ICD.
# NVIDIA's Vulkan ICD is libGLX_nvidia, which needs glvnd's libGLdispatch: the loader alone is not enough.
if [ -d .gl ]; then for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig; fi
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f "$icd" ] && export VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd

# Node and the bundle, unpacked outside the checkout.
w=/tmp/vireo-gpu
mkdir -p "$w"
if command -v node >/dev/null; then
  node=$(command -v node)
else
  xz -dc .device/node.xz > "$w/node" && chmod +x "$w/node" && node=$w/node
fi
tar -C "$w" -xJf .device/modules.tar.xz && rm -rf "$w/app" && cp -r .device/app "$w/app"
# The PyTorch peers run with VIREO_PYTHON: the first python3 here that imports torch.
py=
for c in $(which -a python3) /opt/torch/.venv/bin/python3; do "$c" -c 'import torch' 2>/dev/null && py=$c && break; done
[ -n "$py" ] || { echo "no python3 with torch here: the PyTorch peers will say so"; py=python3; }
export VIREO_PYTHON=$py

