// Renkei's interactive map: enhances every `.js-directory-map` element with Leaflet.
//
// The page always carries a server-drawn SVG map (`.map-fallback`) that works without
// JavaScript, without tiles and in print; this script puts a pannable, zoomable map over it and
// hides the SVG only once the map is drawn. Background tiles are optional: when they cannot
// load (a closed network, a disaster) a note says so and the area outlines and markers stay.
//
// Data attributes of the element:
//   data-geojson      URL of a GeoJSON FeatureCollection of institutions (clustered markers)
//   data-point        "lat,lng" of a single place (an institution's page)
//   data-near         "lat,lng" of a search centre, with data-km its radius
//   data-center       "lat,lng" to start from (the entry form's current location)
//   data-outlines     URL of the municipal outlines
//   data-tiles        tile URL template ({z}/{x}/{y}); empty for no tiles
//   data-attribution  the tiles' credit
//   data-offline-note text shown when tiles fail
//   data-pick         present on the entry form: a click sets the form's lat/lng inputs
//   data-near-here    on the directory: a click on the map offers "search near here"
//   data-label        accessible name of the map
// Popups are built with DOM methods (textContent), never from HTML strings.
(function () {
  "use strict";

  var REGION_CENTRE = [34.65, 135.6];

  function parsePoint(text) {
    if (!text) return null;
    var parts = String(text).split(",");
    if (parts.length !== 2) return null;
    var lat = parseFloat(parts[0]);
    var lng = parseFloat(parts[1]);
    if (!isFinite(lat) || !isFinite(lng)) return null;
    return [lat, lng];
  }

  function fetchJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/geo+json, application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      });
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function distanceText(km) {
    if (typeof km !== "number") return "";
    return km < 1 ? Math.round(km * 1000) + " m" : km.toFixed(1) + " km";
  }

  function popupFor(feature) {
    var p = feature.properties || {};
    var english = document.documentElement.lang === "en";
    var box = element("div", "map-popup");
    var link = element("a", "map-popup-name", p.name);
    link.href = typeof p.url === "string" && p.url.charAt(0) === "/" ? p.url : "#";
    box.appendChild(link);
    var kind = english ? p.kind_label_en || p.kind_label : p.kind_label;
    if (kind) box.appendChild(element("div", "map-popup-kind", kind));
    if (p.address) box.appendChild(element("div", "map-popup-address", p.address));
    if (p.phone) {
      var tel = element("a", "map-popup-phone", p.phone);
      tel.href = "tel:" + String(p.phone).replace(/[^0-9+]/g, "");
      box.appendChild(tel);
    }
    if (typeof p.distance_km === "number") {
      box.appendChild(element("div", "map-popup-distance", distanceText(p.distance_km)));
    }
    return box;
  }

  function markerFor(feature, latlng) {
    var p = feature.properties || {};
    var marker = L.circleMarker(latlng, {
      radius: p.active ? 9 : 7,
      color: p.active ? "#1b1b1b" : "#ffffff",
      weight: p.active ? 2.5 : 1.5,
      fillColor: p["marker-color"] || "#2f6f8f",
      fillOpacity: 0.95,
      bubblingMouseEvents: false,
    });
    marker.bindPopup(function () { return popupFor(feature); });
    // A DOM node, not a string: Leaflet would put a string in as HTML.
    if (p.name) marker.bindTooltip(element("span", null, p.name), { direction: "top", offset: [0, -6] });
    return marker;
  }

  function addTiles(map, root) {
    var url = root.getAttribute("data-tiles");
    if (!url) return;
    var note = null;
    var layer = L.tileLayer(url, {
      attribution: root.getAttribute("data-attribution") || "",
      maxZoom: 18,
      minZoom: 5,
      crossOrigin: false,
    });
    layer.on("tileerror", function () {
      if (note) return;
      note = element("p", "map-offline-note", root.getAttribute("data-offline-note") || "");
      note.setAttribute("role", "status");
      root.appendChild(note);
    });
    layer.addTo(map);
  }

  function addOutlines(map, root) {
    var url = root.getAttribute("data-outlines");
    if (!url) return Promise.resolve(null);
    return fetchJson(url).then(function (data) {
      var layer = L.geoJSON(data, {
        interactive: false,
        style: function () {
          return { color: "#4f6f7d", weight: 2, fillColor: "#dfeef3", fillOpacity: 0.25 };
        },
      });
      layer.addTo(map);
      return layer;
    }).catch(function () { return null; });
  }

  function addInstitutions(map, root) {
    var url = root.getAttribute("data-geojson");
    if (!url) return Promise.resolve(null);
    return fetchJson(url).then(function (data) {
      var points = L.geoJSON(data, { pointToLayer: markerFor });
      var group = typeof L.markerClusterGroup === "function"
        ? L.markerClusterGroup({ showCoverageOnHover: false, maxClusterRadius: 40, disableClusteringAtZoom: 16 })
        : L.featureGroup();
      group.addLayer(points);
      group.addTo(map);
      root.setAttribute("data-markers", String(points.getLayers().length));
      return points.getLayers().length ? points : null;
    });
  }

  // The directory map: a click on an empty spot offers a near search around it.
  function addNearHere(map, root) {
    var label = root.getAttribute("data-near-here");
    if (!label) return;
    map.on("click", function (event) {
      var url = new URL(window.location.href);
      url.searchParams.set("near", event.latlng.lat.toFixed(5) + "," + event.latlng.lng.toFixed(5));
      url.searchParams.delete("page");
      if (!url.searchParams.get("km")) url.searchParams.set("km", "2");
      var link = element("a", "map-near-here", label);
      link.href = url.pathname + url.search;
      L.popup().setLatLng(event.latlng).setContent(link).openOn(map);
    });
  }

  function addPicker(map, root, start) {
    var form = root.closest("form");
    if (!form) return;
    var lat = form.querySelector("input[name=lat]");
    var lng = form.querySelector("input[name=lng]");
    if (!lat || !lng) return;
    var marker = null;
    function place(latlng) {
      if (marker) {
        marker.setLatLng(latlng);
      } else {
        marker = L.circleMarker(latlng, { radius: 9, color: "#b3261e", weight: 3, fillColor: "#ffffff", fillOpacity: 0.9 }).addTo(map);
      }
    }
    if (start) place(start);
    map.on("click", function (event) {
      lat.value = event.latlng.lat.toFixed(6);
      lng.value = event.latlng.lng.toFixed(6);
      place(event.latlng);
      lat.dispatchEvent(new Event("change", { bubbles: true }));
    });
    function typed() {
      var point = parsePoint(lat.value + "," + lng.value);
      if (point) {
        place(point);
        map.panTo(point);
      }
    }
    lat.addEventListener("input", typed);
    lng.addEventListener("input", typed);
  }

  function enhance(root) {
    if (root.getAttribute("data-map-ready")) return;
    var canvas = element("div", "map-canvas");
    canvas.setAttribute("role", "region");
    canvas.setAttribute("aria-label", root.getAttribute("data-label") || "map");
    root.insertBefore(canvas, root.firstChild);
    // Zoom limits on the map itself: without tiles (a closed network) nothing else sets them.
    var map = L.map(canvas, { scrollWheelZoom: false, zoomControl: true, minZoom: 5, maxZoom: 18 });
    var point = parsePoint(root.getAttribute("data-point"));
    var near = parsePoint(root.getAttribute("data-near"));
    var start = parsePoint(root.getAttribute("data-center"));
    map.setView(point || near || start || REGION_CENTRE, point || start ? 16 : near ? 13 : 12);
    addTiles(map, root);

    if (point) {
      markerFor({ properties: { name: root.getAttribute("data-label"), active: false } }, point).addTo(map);
    }
    var nearCircle = null;
    if (near) {
      var km = parseFloat(root.getAttribute("data-km"));
      if (isFinite(km) && km > 0) {
        nearCircle = L.circle(near, { radius: km * 1000, color: "#b3261e", weight: 2, dashArray: "6 6", fill: false, interactive: false }).addTo(map);
      }
      L.circleMarker(near, { radius: 5, color: "#b3261e", weight: 2, fillColor: "#b3261e", fillOpacity: 1, interactive: false }).addTo(map);
    }
    if (root.hasAttribute("data-pick")) addPicker(map, root, start);
    addNearHere(map, root);

    Promise.all([addOutlines(map, root), addInstitutions(map, root)]).then(function (layers) {
      var outlines = layers[0];
      var markers = layers[1];
      var bounds = nearCircle ? nearCircle.getBounds() : markers ? markers.getBounds() : null;
      if (!point && !start) {
        if (bounds && bounds.isValid()) {
          map.fitBounds(bounds, { padding: [24, 24], maxZoom: 16 });
        } else if (outlines && outlines.getBounds().isValid()) {
          map.fitBounds(outlines.getBounds());
        }
      }
      var fallback = root.querySelector(".map-fallback");
      if (fallback) fallback.hidden = true;
      root.classList.add("map-ready");
      root.setAttribute("data-map-ready", "true");
    }).catch(function (error) {
      if (window.console) console.error("Renkei map:", error);
      // Markers could not load: keep the server-drawn map, drop the empty canvas.
      map.remove();
      canvas.parentNode.removeChild(canvas);
      root.setAttribute("data-map-ready", "failed");
    });
  }

  function start() {
    if (typeof window.L === "undefined") return;
    var roots = document.querySelectorAll(".js-directory-map");
    for (var i = 0; i < roots.length; i++) {
      try {
        enhance(roots[i]);
      } catch (e) {
        if (window.console) console.error("Renkei map:", e);
        roots[i].setAttribute("data-map-ready", "failed");
      }
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
