# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Learn: staggered difference-in-differences against a known truth
#
# *学习：已知真实效应下的交错双重差分（图和结论句可切换为中文）*
#
# The study asks whether designating a city a cross-border e-commerce pilot zone raised its
# exports. The zones were designated in **seven batches** between 2015 and 2023, so the treatment
# is *staggered*. This notebook lets you change the world the data come from and watch four
# estimators react:
#
# * **TWFE**: one treatment dummy with city and year effects, the regression most papers run;
# * **CS**: Callaway & Sant'Anna (2021), a 2x2 comparison of each batch with never-designated
#   cities, then averaged;
# * **SA**: Sun & Abraham (2021), one coefficient per batch and year since designation;
# * **BJS**: Borusyak, Jaravel & Spiess (2024), imputing each designated city's exports without
#   the zone from the untreated city-years.
#
# The data are the project's **synthetic panel** (`analysis.data.synthetic`): the real 337
# prefecture-level cities and designation dates, with simulated exports whose true effect we know.
# With the sliders at their starting values you see exactly the study's default data and
# estimators. Nothing here is a finding about China; it is a laboratory for the methods.
#
# **Each redraw shows three panels and a verdict.**
#
# 1. *Overall ATT against the truth.* Each estimator's estimate with its 95% interval (filled
#    dot) and its **expected value**: the same estimator on the same panel without the random
#    shocks (hollow diamond). Every estimator here is linear in the outcome and the shocks have
#    mean zero, so the diamond is where the estimator lands on average over new shocks. The gap
#    between the diamond and the black line (the truth) is **bias**; the gap between the dot and
#    the diamond is **noise**. One interval missing the truth proves nothing; a diamond off the
#    line does.
# 2. *Event studies.* The TWFE event study (one dummy per year relative to designation) against
#    the robust estimators' event studies, with the true effect by year as a black line.
# 3. *Goodman-Bacon weights.* The TWFE coefficient (without controls) is a weighted average of
#    2x2 comparisons. The red crosses are the **forbidden comparisons**: cities designated later
#    compared with cities designated *earlier*, used as controls after their own designation.
#
# Below the figure, a few sentences say which estimators are biased, by how much, and why.
#
# This notebook is not a stage of the pipeline and needs no pipeline run: it simulates its own
# panel. Open it with `make lab` (it starts JupyterLab in `notebooks/`), then **Run > Run All
# Cells**. A redraw takes under a second on two cores; move a slider and release it.

# %% tags=["parameters"]
# Parameters: `lang` is the language of the figure and the verdict ("en" or "zh"); the widget
# below switches it too. `interactive = False` draws the starting values once, without widgets.
lang = "en"
interactive = True

# %%
from IPython.display import Image, Markdown, display

from analysis.figures.style import use_house_style
from analysis.studies import learn

use_house_style()
start = learn.default_knobs()  # the study's DGP; builds the untreated panel (a few seconds)

# %% [markdown]
# ## The knobs
#
# | Widget | What it changes | The study's value |
# |---|---|---|
# | effect size | multiplies each batch's effect at designation | 1 (0.15 for batch 1 down to 0.04 for batch 7) |
# | heterogeneity | 1: the batches' own effects; 0: every batch gets their mean; -1: reversed | 1 |
# | growth / year | added to the effect each year after designation (for 5 years) | 0.03 |
# | batch spacing | years between batches x spacing (0: all designated with the first batch) | 1 |
# | shift (years) | every designation moved earlier (-) or later (+) | 0 |
# | never designated | number of cities never designated (of 337) | 174 |
# | anticipation (years) | the effect starts this many years *before* designation | 0 |
# | city shocks SD | SD of the persistent, fat-tailed city shocks | 0.18 |
# | province shocks SD | SD of shocks common to the cities of a province in a year | 0.08 |
# | GDP feedback | how much log GDP per capita rises with the export effect (GDP as a mediator) | 0.1 |
# | rail effect / rail growth | effect of a first international rail service, and its growth per year | 0.08 / 0 |
# | adjust for controls | the estimators adjust for the rail link, broadband and the four controls (GDP per capita, population, FDI, industry share), as the study does | on |
#
# The untreated outcomes never change: a city keeps its own trend whatever its designation. The
# true ATT is the average effect on the designated city-years, including the part that runs
# through GDP (the *total* effect); the *direct* effect holds GDP on its untreated path.

# %%
SLIDERS = {
    # name: (kind, min, max, step, description)
    "effect_size": ("float", 0.0, 2.0, 0.05, "effect size 效应规模"),
    "heterogeneity": ("float", -1.0, 2.0, 0.05, "heterogeneity 批次异质性"),
    "growth": ("float", 0.0, 0.08, 0.005, "growth / year 年增长"),
    "spacing": ("float", 0.0, 1.5, 0.25, "batch spacing 批次间隔"),
    "shift": ("int", -4, 4, 1, "shift (years) 平移"),
    "never_treated": ("int", 0, 337, 1, "never designated 从未设立"),
    "anticipation": ("int", 0, 3, 1, "anticipation (years) 预期"),
    "noise_sd": ("float", 0.0, 0.5, 0.01, "city shocks SD 城市冲击"),
    "province_year_sd": ("float", 0.0, 0.3, 0.01, "province shocks SD 省级冲击"),
    "gdp_feedback": ("float", 0.0, 0.5, 0.05, "GDP feedback GDP 中介"),
    "rail_att": ("float", 0.0, 0.3, 0.01, "rail effect 铁路效应"),
    "rail_growth": ("float", 0.0, 0.05, 0.005, "rail growth 铁路效应增长"),
}


def show(knobs: learn.Knobs, lang: str) -> None:
    """One redraw: the three panels, then the verdict."""
    image, verdict = learn.redraw(knobs, lang)
    display(Image(data=image))
    display(Markdown(verdict))


try:
    import ipywidgets as widgets
except ImportError:  # the environment's lock has ipywidgets; a bare kernel may not
    widgets = None
    print("ipywidgets is not installed: the starting values are drawn below, without sliders.")

if widgets is not None and interactive:
    style = {"description_width": "150px"}
    layout = widgets.Layout(width="380px")
    controls = {}
    for name, (kind, lo, hi, step, text) in SLIDERS.items():
        cls = widgets.IntSlider if kind == "int" else widgets.FloatSlider
        controls[name] = cls(
            value=start[name], min=lo, max=hi, step=step, description=text,
            continuous_update=False, style=style, layout=layout,
        )  # fmt: skip
    controls["controls"] = widgets.Checkbox(
        value=start["controls"], description="adjust for controls 控制变量", style=style
    )
    controls["lang"] = widgets.ToggleButtons(
        options=[("English", "en"), ("中文", "zh")], value=lang, style={"button_width": "80px"}
    )

    def update(lang, **values):
        show(learn.Knobs(**values), lang)

    names = list(controls)
    panel = widgets.HBox(
        [
            widgets.VBox([controls[n] for n in names[:7]]),
            widgets.VBox([controls[n] for n in names[7:]]),
        ]
    )
    display(panel, widgets.interactive_output(update, controls))

# %% [markdown]
# ## Things to try
#
# 1. **Make TWFE honest.** Set *growth* to 0 and *heterogeneity* to 0: every batch gets the same,
#    constant effect. TWFE's diamond joins the others on the dashed line (what is left is the bad
#    control of item 5), and the red crosses of the Bacon panel rise to the other comparisons: an
#    already-designated control is harmless when its own effect does not change. Now set *growth*
#    to 0.06: the forbidden comparisons turn clearly negative and drag TWFE down.
# 2. **Remove the never-designated cities.** Set *never designated* to 0. The forbidden
#    comparisons now carry a fifth of TWFE's weight (4% before) and its bias grows. CS switches
#    to not-yet-designated cities as controls and SA to the last batch; neither moves.
# 3. **One batch.** Set *batch spacing* to 0: every designated city starts in the same year, and
#    there are no forbidden comparisons left. TWFE still falls short with the controls on (their
#    coefficients are fitted on designated city-years too and soak up part of the growing
#    effect); switch the controls off and TWFE and CS agree.
# 4. **Anticipation.** Set it to 1: exports react a year before designation. Every estimator that
#    compares with the year before designation is biased, and the event studies show effects
#    before year 0. BJS suffers least: it compares with all untreated years, not only the last.
# 5. **A bad control.** Raise *GDP feedback* to 0.4 with *adjust for controls* on: the estimators
#    hold GDP per capita fixed although designation raises it, and estimate the smaller *direct*
#    effect (dashed line). Switch the controls off: CS and SA are centred on the total effect
#    again, while TWFE keeps its own problem.
# 6. **Co-treatment.** Switch the controls off and raise the *rail effect* to 0.3. Fourteen
#    designated cities also have a rail link, twelve of them opened before designation: CS and SA,
#    which compare with the year before designation, do not notice; BJS, which compares with every
#    untreated year, credits the rail effect to the zones. Switch the controls on: the rail dummy
#    takes it back.
# 7. **Noise is not bias.** Raise the *city shocks SD* to 0.4: the intervals widen and the dots
#    wander, but the diamonds do not move.

# %% [markdown]
# ## The starting values, drawn once
#
# The study's DGP and estimators (what the sliders start from), so that the figure and the verdict
# can be read without a running kernel (for instance in the HTML copy made by `make learn`).

# %%
show(learn.Knobs(), lang)

# %% [markdown]
# **Reading it.** TWFE's diamond sits well below the truth: its weight includes comparisons with
# already-designated cities whose effects keep growing, and it weights the batches by the variance
# of their treatment dummy. CS, SA and BJS are centred a little below the total effect, on the
# direct one: the study's estimators adjust for GDP per capita, which designation raises. The dots
# fall about one standard error below their diamonds in this draw of the shocks: that is noise,
# the same for every estimator because they all see the same shocks.
