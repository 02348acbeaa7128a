#!/usr/bin/python3
"""Renders images of the hand-labelled set (test/fixtures/labels/labels.json) with their boxes
drawn, for reviewing labels. Needs only Python's standard library and ffmpeg (Debian's has
drawbox, drawgrid and drawtext); the sources are opencv-doc's examples/data files.

usage: scripts/label-preview.py [--labels FILE] [--data DIR] [--out DIR] [--scale N]
                                [--grid STEP] [SELECTOR...]
  SELECTOR  'vtest.avi#30' (video and frame), 'messi5.jpg' (photo), or an index into images;
            none: every image of the set
  --scale   integer upscale (nearest neighbour) before drawing, default 2
  --grid    also draw a grid every STEP source pixels, to read box edges against
Boxes are drawn just outside their pixel edges ([x1, y1, x2, y2), x2/y2 exclusive); each is
tagged with its index in the image's objects; difficult ones are yellow and tagged '?'.
Writes OUT/<source>[_<frame>].png (default /tmp/labels-preview) and prints the paths.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLORS = ['red', 'cyan', 'lime', 'magenta', 'orange', 'deepskyblue', 'white', 'hotpink']


def font_file():
    """A TrueType font for drawtext, or None (then boxes are drawn without tags)."""
    if shutil.which('fc-match'):
        path = subprocess.run(['fc-match', '-f', '%{file}', 'sans'], capture_output=True,
                              text=True).stdout.strip()
        if os.path.isfile(path):
            return path
    for path in ('/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf',):
        if os.path.isfile(path):
            return path
    return None


def select(images, selectors):
    if not selectors:
        return list(enumerate(images))
    picked = []
    for sel in selectors:
        if sel.isdigit():
            picked.append((int(sel), images[int(sel)]))
            continue
        source, _, frame = sel.replace(':', '#').partition('#')
        hits = [(i, im) for i, im in enumerate(images) if im['source'] == source
                and (not frame or im.get('frame') == int(frame))]
        if not hits:
            sys.exit(f'Expected a source in the set for selector but received {sel!r}')
        picked.extend(hits)
    return picked


def filters(image, scale, grid, font):
    chain = []
    if 'frame' in image:
        chain.append(f"select=eq(n\\,{image['frame']})")
    chain.append(f'scale=iw*{scale}:ih*{scale}:flags=neighbor')
    if grid:
        chain.append(f'drawgrid=w={grid * scale}:h={grid * scale}:t=1:color=yellow@0.35')
    w, h = image['width'] * scale, image['height'] * scale
    for i, obj in enumerate(image['objects']):
        x1, y1, x2, y2 = (v * scale for v in obj['box'])
        color = 'yellow' if obj.get('difficult') else COLORS[i % len(COLORS)]
        bx, by = max(0, x1 - 1), max(0, y1 - 1)
        bw, bh = min(w, x2 + 1) - bx, min(h, y2 + 1) - by
        chain.append(f'drawbox=x={bx}:y={by}:w={bw}:h={bh}:color={color}:t=1')
        if font:
            tag = f"{i} {obj['label']}{'?' if obj.get('difficult') else ''}"
            ty = by - 13 if by >= 13 else by + 2
            chain.append(f"drawtext=fontfile='{font}':text='{tag}':x={bx + 2}:y={ty}"
                         f':fontsize=11:fontcolor={color}:box=1:boxcolor=black@0.5')
    return ','.join(chain)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--labels', default=os.path.join(ROOT, 'test/fixtures/labels/labels.json'))
    ap.add_argument('--data', default='/usr/share/doc/opencv-doc/examples/data')
    ap.add_argument('--out', default='/tmp/labels-preview')
    ap.add_argument('--scale', type=int, default=2)
    ap.add_argument('--grid', type=int, default=0)
    ap.add_argument('selectors', nargs='*')
    args = ap.parse_args()
    if not shutil.which('ffmpeg'):
        sys.exit('Expected ffmpeg on PATH for rendering but received none (apt-get install ffmpeg)')
    with open(args.labels) as f:
        images = json.load(f)['images']
    os.makedirs(args.out, exist_ok=True)
    font = font_file()
    for _, image in select(images, args.selectors):
        src = os.path.join(args.data, image['source'])
        if not os.path.isfile(src):
            sys.exit(f'Expected a source file for {image["source"]} but received none at {src}'
                     ' (apt-get install opencv-doc)')
        stem = image['source'].replace('.', '_')
        if 'frame' in image:
            stem += f"_{image['frame']}"
        out = os.path.join(args.out, stem + '.png')
        vf = filters(image, args.scale, args.grid, font)
        subprocess.run(['ffmpeg', '-v', 'error', '-y', '-i', src, '-vf', vf, '-frames:v', '1', out],
                       check=True)
        print(out)


if __name__ == '__main__':
    main()
