//! Actions on elements act like a person's click, run for real: the `shopwatch` binary in
//! Firefox and Chromium against the demo shop. The element is brought to the middle of the
//! viewport and used once it is visible, enabled and not covered, retried until the step's
//! deadline; `select` also picks from the checkout's custom country list (ARIA combobox) and
//! says when an element is not a `<select>`.
//!
//! Some pages here get a few extra elements from an `execute` step (an overlay that goes away,
//! a sticky bar, a native select): the way a shop's own scripts add them.

mod util;

use demo_shop::BannerMode;
use util::steps::*;
use util::*;

in_both_browsers!(
    the_option_under_the_lists_scroll_arrow_is_clicked,
    select_picks_from_the_custom_country_list,
    select_names_the_options_of_the_list_when_none_matches,
    select_on_a_div_says_it_is_not_a_select,
    a_native_select_is_still_chosen_and_a_missing_option_named,
    a_link_covered_for_a_second_is_clicked_once_uncovered,
    a_link_covered_for_the_whole_step_fails_naming_the_cover,
    a_disabled_button_fails_saying_disabled,
    a_button_disabled_for_a_second_is_clicked_once_enabled,
    a_button_below_the_fold_under_a_sticky_bar_is_clicked,
    a_layer_the_pointer_opens_over_the_button_does_not_get_its_click,
    a_layer_the_pointer_opens_for_good_fails_the_click_naming_it,
);

/// Runs `steps` as the journey `actionability` against `shop`.
async fn run(shop: &RunningShop, browser: &str, steps: &str) -> Outcome {
    run_steps(shop, browser, "actionability", steps).await
}

fn duration_ms(out: &Outcome, step: &str) -> f64 {
    out.step(step)["duration_ms"].as_f64().expect("duration")
}

/// Goes on from the shipping form to the review page, which shows the address as posted.
const TO_REVIEW: &str = r##"
  - step: review
    do:
      - check: "#shipping-standard"
      - click: "#continue"
      - wait_for: ".review-total"
"##;

// The custom country list

/// Austria is the fourth option: its middle is under the list's scroll-down arrow until the
/// list is scrolled. Both drivers click where the option is and refuse ("Other element would
/// receive the click: <svg ...>"); shopwatch scrolls the option to the middle of the list
/// first. The shop gets the choice: the review shows Austria.
async fn the_option_under_the_lists_scroll_arrow_is_clicked(browser: &str) {
    let shop = start_shop().await;
    let steps = format!(
        "{TO_CHECKOUT}{}{TO_REVIEW}{}",
        r##"
  - step: country
    do:
      - click: "#country"
      - click: "#country-option-AT"
      - assert_text: { selector: "#country", equals: Austria }
"##,
        r##"
      - assert_text: { selector: ".review-address", contains: Austria }
"##
    );
    let out = run(&shop, browser, &steps).await;
    assert_passed(&out);
}

/// `select` opens the combobox like a person and clicks the option: by its text, by its value
/// (`data-value`), and by its place; the last choice is what the shop gets.
async fn select_picks_from_the_custom_country_list(browser: &str) {
    let shop = start_shop().await;
    let steps = format!(
        "{TO_CHECKOUT}{}{TO_REVIEW}{}",
        r##"
  - step: country
    do:
      - select: { selector: "#country", label: Belgium }
      - assert_text: { selector: "#country", equals: Belgium }
      - select: { selector: "#country", value: NL }
      - assert_text: { selector: "#country", equals: Netherlands }
      - select: { selector: "#country", index: 3 }
      - assert_text: { selector: "#country", equals: Austria }
"##,
        r##"
      - assert_text: { selector: ".review-address", contains: Austria }
"##
    );
    let out = run(&shop, browser, &steps).await;
    assert_passed(&out);
}

/// An option the list does not have: the step waits until its timeout (a list may fill late),
/// then names the options the list has.
async fn select_names_the_options_of_the_list_when_none_matches(browser: &str) {
    let shop = start_shop().await;
    let steps = format!(
        "{TO_CHECKOUT}{}",
        r##"
  - step: country
    timeout: 3s
    do:
      - select: { selector: "#country", label: Atlantis }
"##
    );
    let out = run(&shop, browser, &steps).await;
    let reason = failed_at(&out, "country", "element_missing");
    assert_contains(
        &reason,
        "select in `#country`: no option labelled \"Atlantis\" (the list has 5: \"Germany\", \"France\", \"Netherlands\", \"Austria\", \"Belgium\")",
    );
}

/// `select` on an element that is neither a `<select>` nor a custom list fails at once, saying
/// what it is and what to do, instead of "element not found" at the timeout.
async fn select_on_a_div_says_it_is_not_a_select(browser: &str) {
    let shop = start_shop().await;
    let steps = format!(
        "{TO_CHECKOUT}{}",
        r##"
  - step: shipping
    do:
      - select: { selector: ".shipping-option", label: Express }
"##
    );
    let out = run(&shop, browser, &steps).await;
    let reason = failed_at(&out, "shipping", "assertion");
    assert_contains(
        &reason,
        "select in `.shipping-option`: the element is not a <select> (it is a <div>); for a custom list use the element with role=combobox that opens it",
    );
    let took = duration_ms(&out, "shipping");
    assert!(
        took < 5_000.0,
        "failed at once, not at the 15 s timeout: {took} ms"
    );
}

/// A page script's native `<select>`: chosen by label (its change handler sees it), and an
/// option it does not have is named when the step times out.
async fn a_native_select_is_still_chosen_and_a_missing_option_named(browser: &str) {
    let shop = start_shop().await;
    let steps = r##"
  - step: choose
    do:
      - open: /help
      - execute:
          script: |
            var size = document.createElement('select');
            size.id = 'size';
            ['Small', 'Large'].forEach(function (name) {
              var option = document.createElement('option');
              option.value = name.charAt(0);
              option.textContent = name;
              size.appendChild(option);
            });
            size.addEventListener('change', function () { document.title = 'size ' + size.value; });
            document.querySelector('main').appendChild(size);
      - select: { selector: "#size", label: Large }
      - assert_title: { equals: size L }
  - step: missing
    timeout: 2s
    do:
      - select: { selector: "#size", value: XL }
"##;
    let out = run(&shop, browser, steps).await;
    assert_eq!(out.step("choose")["outcome"], "ok", "{}", out.describe());
    let reason = failed_at(&out, "missing", "element_missing");
    assert_contains(
        &reason,
        "select in `#size`: the <select> has no option with value \"XL\"",
    );
}

// Covered, disabled, off-screen

/// A loading overlay over the whole page goes away after a second (as a shop's does while a
/// script runs): the click waits for it and then follows the link.
async fn a_link_covered_for_a_second_is_clicked_once_uncovered(browser: &str) {
    let shop = start_shop().await;
    let steps = r##"
  - step: browse
    do:
      - open: /
      - execute:
          script: |
            var overlay = document.createElement('div');
            overlay.className = 'loading-overlay';
            overlay.style.cssText = 'position:fixed;inset:0;z-index:50;background:rgba(255,255,255,.7)';
            document.body.appendChild(overlay);
            setTimeout(function () { overlay.remove(); }, 1000);
      - click: "a.category[href='/category/coffee']"
      - wait_url: /category/coffee
"##;
    let out = run(&shop, browser, steps).await;
    assert_passed(&out);
    let took = duration_ms(&out, "browse");
    assert!(
        took >= 1_000.0,
        "the click waited for the overlay: {took} ms"
    );
}

/// The cookie banner covers the page for the whole step: the click fails at the step's timeout
/// naming what covers the link, with its text.
async fn a_link_covered_for_the_whole_step_fails_naming_the_cover(browser: &str) {
    let shop = start_shop().await;
    shop.set_faults(vec![Fault::CookieBanner(BannerMode::Always)]);
    let steps = r##"
  - step: browse
    timeout: 3s
    do:
      - open: /
      - click: "a.category[href='/category/coffee']"
"##;
    let out = run(&shop, browser, steps).await;
    let reason = failed_at(&out, "browse", "element_missing");
    assert_contains(
        &reason,
        "click `a.category[href='/category/coffee']`: the element is covered by <div id=\"cookie-banner\"> \"We use cookies to keep your cart",
    );
    assert_contains(&reason, "(until the step timeout)");
}

/// "Add to cart" of a sold-out coffee is disabled: the click fails saying so (the drivers
/// would click it and nothing would happen).
async fn a_disabled_button_fails_saying_disabled(browser: &str) {
    let shop = start_shop().await;
    let steps = r##"
  - step: add
    timeout: 2s
    do:
      - open: /product/geisha-reserve
      - click: "#add-to-cart"
"##;
    let out = run(&shop, browser, steps).await;
    let reason = failed_at(&out, "add", "element_missing");
    assert_contains(
        &reason,
        "click `#add-to-cart`: the element is disabled (until the step timeout)",
    );
}

/// A "Pay" button the page enables after a second (once its script has checked the form): the
/// click waits for it instead of clicking the disabled button, which does nothing.
async fn a_button_disabled_for_a_second_is_clicked_once_enabled(browser: &str) {
    let shop = start_shop().await;
    let steps = r##"
  - step: pay
    do:
      - open: /help
      - execute:
          script: |
            var button = document.createElement('button');
            button.id = 'pay-later';
            button.textContent = 'Pay';
            button.disabled = true;
            button.addEventListener('click', function () { document.title = 'paid'; });
            document.querySelector('main').prepend(button);
            setTimeout(function () { button.disabled = false; }, 1000);
      - click: "#pay-later"
      - assert_title: { equals: paid }
"##;
    let out = run(&shop, browser, steps).await;
    assert_passed(&out);
    let took = duration_ms(&out, "pay");
    assert!(
        took >= 1_000.0,
        "the click waited for the button: {took} ms"
    );
}

/// The page's script of [`a_layer_the_pointer_opens_over_the_button_does_not_get_its_click`]:
/// a button `#gift-wrap`, and a layer `#hover-offer` over the whole page that its first
/// `pointerover` opens, for `stays` ms; the title says which of them got a click.
fn hover_offer_page(stays: &str) -> String {
    format!(
        r##"
      - open: /help
      - execute:
          script: |
            var button = document.createElement('button');
            button.id = 'gift-wrap';
            button.textContent = 'Add gift wrap';
            button.addEventListener('click', function () {{
              document.title = document.title === 'offer taken' ? 'both' : 'wrapped';
            }});
            document.querySelector('main').prepend(button);
            var layer = document.createElement('div');
            layer.id = 'hover-offer';
            layer.textContent = '10 % off your first order';
            layer.style.cssText = 'position:fixed;inset:0;z-index:50;background:#fff;display:none';
            layer.addEventListener('click', function () {{ document.title = 'offer taken'; }});
            document.body.appendChild(layer);
            button.addEventListener('pointerover', function () {{
              layer.style.display = 'block';
              setTimeout(function () {{ layer.remove(); }}, {stays});
            }}, {{ once: true }});
"##
    )
}

/// A layer the page opens over a button as the pointer arrives on it (a shop's "first time
/// here?" offer on hover, gone after 800 ms): the press lands on the layer, not the button.
/// The page never gets that click (the layer's offer is not taken), and the click is tried
/// again once the layer is gone; the button's own handler runs once.
async fn a_layer_the_pointer_opens_over_the_button_does_not_get_its_click(browser: &str) {
    let shop = start_shop().await;
    let steps = format!(
        "\n  - step: wrap\n    do:{}      - click: \"#gift-wrap\"\n      - assert_title: {{ equals: wrapped }}\n",
        hover_offer_page("800")
    );
    let out = run(&shop, browser, &steps).await;
    assert_passed(&out);
}

/// The layer stays: the click fails at the step's timeout naming the layer, whose offer was
/// never taken (the page's title is still its own).
async fn a_layer_the_pointer_opens_for_good_fails_the_click_naming_it(browser: &str) {
    let shop = start_shop().await;
    let steps = format!(
        "\n  - step: wrap\n    timeout: 2s\n    do:{}      - click: \"#gift-wrap\"\n",
        hover_offer_page("600000")
    );
    let out = run(&shop, browser, &steps).await;
    let reason = failed_at(&out, "wrap", "element_missing");
    assert_contains(
        &reason,
        "click `#gift-wrap`: the element is covered by <div id=\"hover-offer\"> \"10 % off your first order\"",
    );
    assert_contains(&reason, "title \"Help · Demo Shop\"");
}

/// A button far below the fold, with a sticky bar at the bottom of the viewport (a shop's
/// "free shipping" bar): both drivers scroll it to the bottom edge, under the bar, and refuse;
/// shopwatch brings it to the middle and clicks it.
async fn a_button_below_the_fold_under_a_sticky_bar_is_clicked(browser: &str) {
    let shop = start_shop().await;
    let steps = r##"
  - step: far
    do:
      - open: /help
      - execute:
          script: |
            var main = document.querySelector('main');
            var spacer = document.createElement('div');
            spacer.style.height = '2000px';
            main.appendChild(spacer);
            var button = document.createElement('button');
            button.id = 'far-button';
            button.textContent = 'Far away';
            button.addEventListener('click', function () { document.title = 'clicked'; });
            main.appendChild(button);
            var more = document.createElement('div');
            more.style.height = '2000px';
            main.appendChild(more);
            var bar = document.createElement('div');
            bar.className = 'shipping-bar';
            bar.textContent = 'Free shipping from 50 EUR';
            bar.style.cssText = 'position:fixed;left:0;right:0;bottom:0;height:120px;background:#fc0;z-index:10';
            document.body.appendChild(bar);
      - click: "#far-button"
      - assert_title: { equals: clicked }
"##;
    let out = run(&shop, browser, steps).await;
    assert_passed(&out);
}
